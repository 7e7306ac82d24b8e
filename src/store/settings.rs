//! App settings: the JSON object saved for each app of a workspace, read with the `default`s
//! of the app's `settingsSchema` (manifest.json) filled in, and validated against that schema
//! (a JSON Schema) before it is saved from the CLI.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};

use super::{app_key, Db, Result, StoreError};

/// The settings saved for `app` (an empty object when none were).
pub fn saved(db: &Db, app: &str) -> Result<Value> {
    let text: Option<String> =
        db.conn.query_row("SELECT value FROM settings WHERE app = ?1", [app_key(app)], |r| r.get(0)).optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_else(|| Value::Object(Map::new())))
}

/// The settings the app gets: what was saved, over the schema's defaults.
pub fn effective(db: &Db, app: &str) -> Result<Value> {
    let mut value = saved(db, app)?;
    if let Some(schema) = schema(db, app)? {
        fill_defaults(&schema, &mut value);
    }
    Ok(value)
}

/// Replaces the settings saved for `app`.
pub fn save(db: &Db, app: &str, value: &Value) -> Result<()> {
    save_in(&db.conn, app, value)
}

/// [`save`] on a connection (a transaction of the caller's).
pub(crate) fn save_in(conn: &Connection, app: &str, value: &Value) -> Result<()> {
    if !value.is_object() {
        return Err(StoreError::bad_request("app settings must be a JSON object"));
    }
    conn.execute(
        "INSERT INTO settings (app, value) VALUES (?1, ?2) ON CONFLICT (app) DO UPDATE SET value = excluded.value",
        params![app_key(app), value.to_string()],
    )?;
    Ok(())
}

/// Every app with saved settings, and what it saved.
pub fn all(db: &Db) -> Result<Vec<(String, Value)>> {
    let mut stmt = db.conn.prepare("SELECT app, value FROM settings ORDER BY app")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (app, text) = row?;
        out.push((app, serde_json::from_str(&text).unwrap_or(Value::Null)));
    }
    Ok(out)
}

/// The `settingsSchema` recorded for `app` when it was last linked.
pub fn schema(db: &Db, app: &str) -> Result<Option<Value>> {
    schema_in(&db.conn, app)
}

/// [`schema`] on a connection (a transaction of the caller's).
pub(crate) fn schema_in(conn: &Connection, app: &str) -> Result<Option<Value>> {
    let text: Option<String> = conn
        .query_row("SELECT schema FROM settings_schemas WHERE app = ?1", [app_key(app)], |r| r.get(0))
        .optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Records (or, with `None`, forgets) the app's `settingsSchema`, so that the settings of an
/// app linked in this workspace get its defaults and are checked even from another folder.
pub fn record_schema(db: &Db, app: &str, schema: Option<&Value>) -> Result<()> {
    match schema {
        Some(s) => db.conn.execute(
            "INSERT INTO settings_schemas (app, schema) VALUES (?1, ?2) \
             ON CONFLICT (app) DO UPDATE SET schema = excluded.schema",
            params![app_key(app), s.to_string()],
        )?,
        None => db.conn.execute("DELETE FROM settings_schemas WHERE app = ?1", [app_key(app)])?,
    };
    Ok(())
}

/// Fills in the `default` of every property (nested objects included) that `value` lacks.
pub fn fill_defaults(schema: &Value, value: &mut Value) {
    let (Some(props), Some(obj)) = (schema.get("properties").and_then(Value::as_object), value.as_object_mut()) else {
        return;
    };
    for (name, prop) in props {
        match obj.get_mut(name) {
            Some(v) => fill_defaults(prop, v),
            None => {
                if let Some(d) = prop.get("default") {
                    obj.insert(name.clone(), d.clone());
                } else if prop.get("properties").is_some() {
                    let mut nested = Value::Object(Map::new());
                    fill_defaults(prop, &mut nested);
                    if nested.as_object().is_some_and(|m| !m.is_empty()) {
                        obj.insert(name.clone(), nested);
                    }
                }
            }
        }
    }
}

/// Checks settings as the app would get them: `value` with the schema's defaults filled in.
pub fn check(schema: &Value, value: &Value) -> std::result::Result<(), String> {
    let mut effective = value.clone();
    fill_defaults(schema, &mut effective);
    validate(schema, &effective)
}

/// Checks `value` against the app's `settingsSchema`.
pub fn validate(schema: &Value, value: &Value) -> std::result::Result<(), String> {
    super::schema::validate(schema, value).map_err(|e| match e {
        super::schema::Invalid::Schema(e) => format!("settingsSchema in manifest.json is not a valid JSON Schema: {e}"),
        super::schema::Invalid::Value(e) => e,
    })
}

/// Sets `path` (dotted: `a.b.c`) in `target` to `value`, creating objects on the way.
pub fn set_path(target: &mut Value, path: &str, value: Value) -> std::result::Result<(), String> {
    let mut at = target;
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("`{path}` is not a field name (use KEY or a.b.c)"));
    }
    for (i, part) in parts.iter().enumerate() {
        let obj = match at {
            Value::Object(m) => m,
            _ => return Err(format!("`{}` is not an object", parts[..i].join("."))),
        };
        if i == parts.len() - 1 {
            obj.insert(part.to_string(), value);
            return Ok(());
        }
        at = obj.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_fill_only_what_is_missing() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "string", "default": "x"},
            "b": {"type": "number", "default": 1},
            "n": {"type": "object", "properties": {"c": {"type": "boolean", "default": true}}}
        }});
        let mut v = json!({"b": 5});
        fill_defaults(&schema, &mut v);
        assert_eq!(v, json!({"a": "x", "b": 5, "n": {"c": true}}));
    }

    #[test]
    fn validation_names_the_field() {
        let schema = json!({"type": "object", "properties": {"n": {"type": "object", "properties": {"max": {"type": "integer", "maximum": 10}}}}});
        assert!(validate(&schema, &json!({"n": {"max": 3}})).is_ok());
        let e = validate(&schema, &json!({"n": {"max": 30}})).unwrap_err();
        assert!(e.starts_with("/n/max: "), "{e}");
        let e = validate(&schema, &json!({"n": {"max": "x"}})).unwrap_err();
        assert!(e.starts_with("/n/max: ") && e.contains("string"), "{e}");
    }
}
