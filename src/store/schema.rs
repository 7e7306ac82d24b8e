//! JSON Schema checks (app `settingsSchema`, Master Data schemas) with `boon`: errors name
//! the path of each offending field (`/a/b`, `/` for the whole value) and what is wrong there.

use serde_json::Value;

/// Why a value was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// The schema itself cannot be compiled.
    Schema(String),
    /// The value does not match: `path: problem`, `; `-separated.
    Value(String),
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Schema(e) => write!(f, "the schema is not a valid JSON Schema: {e}"),
            Invalid::Value(e) => f.write_str(e),
        }
    }
}

/// A compiled schema, to check many values against it (a search's schema filter checks every
/// document of an entity when the schema changes).
pub struct Compiled {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Compiled {
    pub fn new(schema: &Value) -> Result<Compiled, Invalid> {
        const URL: &str = "file:///ioctl/schema.json";
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.add_resource(URL, schema.clone()).map_err(|e| Invalid::Schema(e.to_string()))?;
        let index = compiler.compile(URL, &mut schemas).map_err(|e| Invalid::Schema(e.to_string()))?;
        Ok(Compiled { schemas, index })
    }

    /// Checks `value` against the schema.
    pub fn check(&self, value: &Value) -> Result<(), Invalid> {
        self.schemas.validate(value, self.index).map_err(|e| {
            let mut leaves = Vec::new();
            collect_leaves(&e, &mut leaves);
            Invalid::Value(leaves.join("; "))
        })
    }

    /// Whether `value` matches the schema.
    pub fn accepts(&self, value: &Value) -> bool {
        self.schemas.validate(value, self.index).is_ok()
    }
}

/// Where `value` does not match `schema`: each offending field's path (`/a/b`, `/` for the
/// whole value) with what is wrong there; empty when it matches.
pub fn problems(schema: &Value, value: &Value) -> Result<Vec<(String, String)>, Invalid> {
    let compiled = Compiled::new(schema)?;
    let Err(e) = compiled.schemas.validate(value, compiled.index) else { return Ok(Vec::new()) };
    let mut leaves = Vec::new();
    collect_leaf_pairs(&e, &mut leaves);
    Ok(leaves)
}

fn collect_leaf_pairs(e: &boon::ValidationError, out: &mut Vec<(String, String)>) {
    if e.causes.is_empty() {
        let at = e.instance_location.to_string();
        out.push((if at.is_empty() { "/".to_string() } else { at }, e.kind.to_string()));
    }
    for c in &e.causes {
        collect_leaf_pairs(c, out);
    }
}

/// Checks `value` against `schema`.
pub fn validate(schema: &Value, value: &Value) -> Result<(), Invalid> {
    Compiled::new(schema)?.check(value)
}

fn collect_leaves(e: &boon::ValidationError, out: &mut Vec<String>) {
    let mut pairs = Vec::new();
    collect_leaf_pairs(e, &mut pairs);
    out.extend(pairs.into_iter().map(|(at, kind)| format!("{at}: {kind}")));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn problems_name_each_offending_field_and_none_when_the_value_matches() {
        let schema = json!({
            "type": "object",
            "properties": {
                "max": {"type": "integer", "minimum": 1},
                "mode": {"enum": ["fast", "safe"]},
                "inner": {"type": "object", "properties": {"on": {"type": "boolean"}}}
            }
        });
        assert_eq!(problems(&schema, &json!({"max": 3, "mode": "safe"})).unwrap(), vec![]);
        let found = problems(&schema, &json!({"max": 0, "mode": "slow", "inner": {"on": "yes"}})).unwrap();
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["/max", "/mode", "/inner/on"], "{found:?}");
        assert!(found[0].1.contains(">=1"), "{found:?}");
        assert_eq!(problems(&schema, &json!([1])).unwrap()[0].0, "/", "the whole value");
        assert!(matches!(problems(&json!({"type": 7}), &json!({})), Err(Invalid::Schema(_))));
    }
}
