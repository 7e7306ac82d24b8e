//! App settings: the JSON object saved for each app of a workspace, read with the `default`s
//! of the app's `settingsSchema` (manifest.json) filled in, and validated against that schema
//! (a JSON Schema) before it is saved from the CLI.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};

use super::db::backend;
use super::pg::workspace as pg_ws;
use super::{app_key, Db, Result, StoreError};

/// The settings saved for `app` (an empty object when none were).
pub fn saved(db: &Db, app: &str) -> Result<Value> {
    let db = backend!(db, pg => pg.run(|c| pg_ws::settings_saved(c, app)));
    let text: Option<String> =
        db.conn.query_row("SELECT value FROM settings WHERE app = ?1", [app_key(app)], |r| r.get(0)).optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_else(|| Value::Object(Map::new())))
}

/// The settings the app gets: what was saved, over the schema's defaults.
pub fn effective(db: &Db, app: &str) -> Result<Value> {
    if let Db::Postgres(pg) = db {
        // One trip to the connection's thread for both reads.
        return pg.run(|c| pg_ws::settings_effective(c, app));
    }
    let mut value = saved(db, app)?;
    if let Some(schema) = schema(db, app)? {
        fill_defaults(&schema, &mut value);
    }
    Ok(value)
}

/// Replaces the settings saved for `app`.
pub fn save(db: &Db, app: &str, value: &Value) -> Result<()> {
    let db = backend!(db, pg => pg.run(|c| pg_ws::settings_save(c, app, value)));
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
    let db = backend!(db, pg => pg.run(pg_ws::settings_all));
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
    let db = backend!(db, pg => pg.run(|c| pg_ws::settings_schema(c, app)));
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
    let db = backend!(db, pg => pg.run(|c| pg_ws::record_schema(c, app, schema)));
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

/// The most fields a dotted key (`a.b.c` names 3) may name.
pub const MAX_KEY_DEPTH: usize = 64;

/// How deep settings and event bodies built on the command line may nest (objects and arrays):
/// below serde_json's limit of 128, so that what is saved or sent reads back.
pub const MAX_DEPTH: usize = 100;

/// How deeply `value` nests: 0 for a scalar, 1 for `{}` or `[1]`, 2 for `{"a": []}`, ...
/// (counted without recursion, whatever the depth).
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0)];
    while let Some((v, at)) = pending.pop() {
        match v {
            Value::Array(a) => pending.extend(a.iter().map(|c| (c, at + 1))),
            Value::Object(o) => pending.extend(o.values().map(|c| (c, at + 1))),
            _ => continue,
        }
        deepest = deepest.max(at + 1);
    }
    deepest
}

/// Refuses `value` (named `what`) when it nests deeper than [`MAX_DEPTH`].
pub fn check_depth(value: &Value, what: &str) -> std::result::Result<(), String> {
    match depth(value) {
        d if d > MAX_DEPTH => Err(format!("{what} would nest {d} levels deep; at most {MAX_DEPTH} are allowed")),
        _ => Ok(()),
    }
}

/// Sets `path` (dotted: `a.b.c`) in `target` to `value`, creating objects on the way.
pub fn set_path(target: &mut Value, path: &str, value: Value) -> std::result::Result<(), String> {
    let mut at = target;
    let parts: Vec<&str> = path.split('.').collect();
    let shown = crate::app::clip(path, 60);
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("`{shown}` is not a field name (use KEY or a.b.c)"));
    }
    if parts.len() > MAX_KEY_DEPTH {
        return Err(format!(
            "`{shown}` names {} nested fields; a dotted key names at most {MAX_KEY_DEPTH}",
            parts.len()
        ));
    }
    for (i, part) in parts.iter().enumerate() {
        let obj = match at {
            Value::Object(m) => m,
            _ => return Err(format!("`{}` is not an object", crate::app::clip(&parts[..i].join("."), 60))),
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

    #[test]
    fn deep_keys_and_values_are_errors_not_a_stack_overflow() {
        let mut v = json!({"kept": 1});
        let e = set_path(&mut v, &vec!["a"; 20_000].join("."), json!(1)).unwrap_err();
        assert!(e.ends_with("names 20000 nested fields; a dotted key names at most 64") && e.len() < 200, "{e}");
        assert_eq!(v, json!({"kept": 1}), "nothing was set");
        set_path(&mut v, &vec!["a"; MAX_KEY_DEPTH].join("."), json!([[1]])).unwrap();
        assert_eq!(depth(&v), MAX_KEY_DEPTH + 2);
        assert_eq!(check_depth(&v, "x"), Ok(()));

        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let deep: Value = serde_json::from_str(&nested(127)).unwrap();
        assert_eq!(depth(&deep), 127);
        assert_eq!(
            check_depth(&deep, "the body").unwrap_err(),
            "the body would nest 127 levels deep; at most 100 are allowed"
        );
        let e = serde_json::from_str::<Value>(&nested(100_000)).unwrap_err();
        assert!(e.to_string().contains("recursion limit exceeded"), "serde_json refuses what it cannot hold: {e}");
        assert_eq!((depth(&json!(1)), depth(&json!({})), depth(&json!({"a": []}))), (0, 1, 2));
    }
}
