//! A Master Data `where` (parsed by `masterdata::query`) as a PostgreSQL condition over the
//! JSONB `doc`, every value a bound parameter. It answers what SQLite's `json_extract`
//! version answers: a JSON null is no value, a bare number or boolean matches the number and
//! its text, `*` is a case-insensitive wildcard, numbers compare as numbers, and text compares
//! bytewise and above every number (SQLite's order of types).

use postgres::types::ToSql;
use serde_json::Value;

use crate::store::masterdata::query::{Expr, Literal, Op};

/// A query's bound values, `$1` first.
pub type Params = Vec<Box<dyn ToSql + Sync + Send>>;

/// Binds `value`, answering its placeholder.
pub fn bind(params: &mut Params, value: impl ToSql + Sync + Send + 'static) -> String {
    params.push(Box::new(value));
    format!("${}", params.len())
}

/// The field's value as JSONB, SQL NULL when missing or JSON null (the expression the
/// indexes are made on). Field names hold only `[A-Za-z0-9_-]` and dots (checked by the parser
/// or `valid_field`), so they are safe inside the path literal.
pub fn field(name: &str) -> String {
    format!("nullif(doc #> '{{{}}}', 'null'::jsonb)", name.replace('.', ","))
}

/// The expression as a condition, its values appended to `params`.
pub fn condition(e: &Expr, params: &mut Params) -> String {
    match e {
        Expr::And(a, b) => format!("({} AND {})", condition(a, params), condition(b, params)),
        Expr::Or(a, b) => format!("({} OR {})", condition(a, params), condition(b, params)),
        Expr::Not(a) => format!("(NOT coalesce({}, false))", condition(a, params)),
        Expr::Compare { field: name, op, value } => {
            let f = field(name);
            match op {
                Op::Eq => format!("({})", equals(&f, value, params)),
                Op::Ne => format!("({f} IS NULL OR NOT ({}))", equals(&f, value, params)),
                Op::Lt => compare(&f, "<", value, params),
                Op::Gt => compare(&f, ">", value, params),
            }
        }
        Expr::Between { field: name, low, high } => {
            let f = field(name);
            format!("({} AND {})", compare(&f, ">=", low, params), compare(&f, "<=", high, params))
        }
        Expr::IsNull { field: name, negated } => {
            format!("({} IS {}NULL)", field(name), if *negated { "NOT " } else { "" })
        }
    }
}

/// `f = value`: the JSON values it may equal, so the field's index serves it.
fn equals(f: &str, v: &Literal, params: &mut Params) -> String {
    let text = match v {
        Literal::Bare(b) | Literal::Quoted(b) => b,
    };
    if text.contains('*') {
        let pattern = crate::store::masterdata::query::like_pattern(text);
        return format!("({f} #>> '{{}}') ILIKE {}", bind(params, pattern));
    }
    let mut matches = vec![Value::String(text.clone())];
    if let Literal::Bare(b) = v {
        match b.as_str() {
            "true" => matches.extend([Value::Bool(true), Value::from(1)]),
            "false" => matches.extend([Value::Bool(false), Value::from(0)]),
            _ => {
                if let Some(n) = b.parse::<f64>().ok().filter(|n| n.is_finite()) {
                    matches.extend(serde_json::Number::from_f64(n).map(Value::Number));
                    if n == 1.0 || n == 0.0 {
                        matches.push(Value::Bool(n == 1.0));
                    }
                }
            }
        }
    }
    let list: Vec<String> = matches.into_iter().map(|m| bind(params, m)).collect();
    format!("{f} IN ({})", list.join(", "))
}

/// `f OP value` in SQLite's order of types: a bare number compares with numbers (a boolean
/// counting as 1 or 0) and stands below any text; text compares bytewise.
fn compare(f: &str, op: &str, v: &Literal, params: &mut Params) -> String {
    let above = matches!(op, ">" | ">=");
    let number = match v {
        Literal::Bare(b) => b.parse::<f64>().ok().filter(|n| n.is_finite()),
        Literal::Quoted(_) => None,
    };
    match (number, v) {
        (Some(n), _) => {
            let p = bind(params, n);
            format!(
                "(CASE jsonb_typeof({f}) WHEN 'number' THEN ({f})::float8 {op} {p} \
                 WHEN 'boolean' THEN (CASE WHEN {f} = 'true'::jsonb THEN 1 ELSE 0 END) {op} {p} \
                 WHEN 'string' THEN {above} WHEN 'object' THEN {above} WHEN 'array' THEN {above} END)"
            )
        }
        (None, Literal::Bare(t) | Literal::Quoted(t)) => {
            let p = bind(params, t.clone());
            format!(
                "(CASE jsonb_typeof({f}) WHEN 'string' THEN ({f} #>> '{{}}') COLLATE \"C\" {op} {p} \
                 WHEN 'number' THEN {below} WHEN 'boolean' THEN {below} \
                 ELSE ({f})::text COLLATE \"C\" {op} {p} END)",
                below = !above
            )
        }
    }
}

/// `ORDER BY` for a sort's fields: missing values first ascending (last descending), numbers
/// below text, then the insertion order.
pub fn order(items: &[(String, bool)]) -> String {
    let mut parts = Vec::new();
    for (name, desc) in items {
        let f = field(name);
        let dir = if *desc { "DESC NULLS LAST" } else { "ASC NULLS FIRST" };
        // SQLite's order: numbers (a boolean is 1 or 0) below text, text bytewise.
        parts.push(format!("(jsonb_typeof({f}) NOT IN ('number', 'boolean')) {dir}"));
        parts.push(format!(
            "(CASE jsonb_typeof({f}) WHEN 'number' THEN ({f})::float8 \
             WHEN 'boolean' THEN (CASE WHEN {f} = 'true'::jsonb THEN 1 ELSE 0 END) END) {dir}"
        ));
        parts.push(format!(
            "(CASE jsonb_typeof({f}) WHEN 'string' THEN {f} #>> '{{}}' WHEN 'number' THEN NULL \
             WHEN 'boolean' THEN NULL ELSE ({f})::text END) COLLATE \"C\" {dir}"
        ));
    }
    parts.push("seq ASC".into());
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::masterdata::query::parse;

    #[test]
    fn values_are_bound_never_spliced() {
        let mut params = Params::new();
        let sql = condition(&parse("name='x'' OR 1=1 --' AND age>3").unwrap().unwrap(), &mut params);
        assert!(!sql.contains("OR 1=1"), "{sql}");
        assert_eq!(params.len(), 2, "{sql}");
        assert!(sql.starts_with("((nullif(doc #> '{name}', 'null'::jsonb) IN ($1))"), "{sql}");
    }
}
