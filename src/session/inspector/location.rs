//! Where the debugged process paused, as the developer reads it: the top call frame's
//! generated location mapped back to the app's .ts line through the script's source map (the
//! build's map, inlined by the host's .ts loader: `Debugger.scriptParsed`'s `sourceMapURL`).

use std::collections::HashMap;
use std::path::Path;

use base64::Engine;
use serde_json::Value;

/// The scripts the process reported (`Debugger.scriptParsed`), by script id: the app's own
/// keep their source map's URL (others are shown by their generated line).
#[derive(Debug, Default)]
pub struct Scripts {
    by_id: HashMap<String, Script>,
}

#[derive(Debug)]
struct Script {
    url: String,
    source_map: Option<String>,
}

impl Scripts {
    /// Notes a `Debugger.scriptParsed` event's params.
    pub fn parsed(&mut self, params: &Value, app_root: &Path) {
        let (Some(id), Some(url)) = (params["scriptId"].as_str(), params["url"].as_str()) else { return };
        let mine = app_file(url, app_root).is_some();
        let source_map = params["sourceMapURL"].as_str().filter(|m| mine && !m.is_empty()).map(String::from);
        self.by_id.insert(id.to_string(), Script { url: url.to_string(), source_map });
    }

    /// Forgets every script (the process they were in is gone).
    pub fn clear(&mut self) {
        self.by_id.clear();
    }

    /// `node/events/x.ts:12` for a `Debugger.paused` event's params: its top call frame,
    /// through the source map for the app's files; a path outside the app as its URL says.
    pub fn paused_at(&self, params: &Value, app_root: &Path) -> Option<(String, u32)> {
        let location = &params["callFrames"][0]["location"];
        let line = u32::try_from(location["lineNumber"].as_u64()?).ok()?;
        let column = u32::try_from(location["columnNumber"].as_u64().unwrap_or(0)).ok()?;
        let script = self.by_id.get(location["scriptId"].as_str()?);
        let url = script.map(|s| s.url.as_str()).or_else(|| params["callFrames"][0]["url"].as_str())?;
        if let Some(mapped) = script.and_then(|s| s.source_map.as_deref()).and_then(|m| map_back(m, line, column)) {
            let (source, line) = mapped;
            let shown = app_file(&source, app_root).unwrap_or(source);
            return Some((shown, line + 1));
        }
        let shown = app_file(url, app_root).unwrap_or_else(|| url.to_string());
        Some((shown, line + 1))
    }
}

/// `url` (a `file://` URL or a path) relative to the app folder, when it is in it.
fn app_file(url: &str, app_root: &Path) -> Option<String> {
    let path = url.strip_prefix("file://").unwrap_or(url);
    let path = percent_encoding::percent_decode_str(path).decode_utf8().ok()?;
    let rel = Path::new(path.as_ref()).strip_prefix(app_root).ok()?;
    Some(rel.to_string_lossy().into_owned())
}

/// The original (source, 0-based line) of a generated position, from an inline source map
/// (`data:application/json;...;base64,...`); a map elsewhere is not read.
fn map_back(source_map_url: &str, line: u32, column: u32) -> Option<(String, u32)> {
    let data = source_map_url.strip_prefix("data:")?;
    let (kind, payload) = data.split_once(',')?;
    let bytes = if kind.ends_with(";base64") {
        base64::engine::general_purpose::STANDARD.decode(payload).ok()?
    } else {
        percent_encoding::percent_decode_str(payload).collect()
    };
    let map = swc_sourcemap::SourceMap::from_slice(&bytes).ok()?;
    let token = map.lookup_token(line, column)?;
    Some((token.get_source()?.to_string(), token.get_src_line()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A .ts file built as ioctl builds it, with its map inlined as the host's loader does.
    fn built(path: &Path, source: &str) -> (String, String) {
        let t = crate::build::transpile(path, Path::new("node/events/x.ts"), source).unwrap();
        let url = format!(
            "data:application/json;charset=utf-8;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&t.map)
        );
        (t.code, url)
    }

    #[test]
    fn a_pause_in_the_apps_code_is_shown_at_its_ts_line() {
        let root = Path::new("/home/dev/app");
        let file = root.join("node/events/x.ts");
        let source = "import { IOClients } from '@vtex/api'\n\ninterface Body { n: number }\n\nexport async function x(ctx: any) {\n  const body: Body = ctx.body\n  const marker = body.n * 2\n  return marker\n}\n";
        let (code, map) = built(&file, source);
        let generated = code.lines().position(|l| l.contains("marker =")).unwrap() as u64;
        assert_ne!(generated, 6, "the build moves lines: the test would not show the mapping");
        let mut scripts = Scripts::default();
        let url = format!("file://{}", file.display());
        scripts.parsed(&json!({ "scriptId": "42", "url": url, "sourceMapURL": map }), root);
        let paused = json!({ "callFrames": [{ "url": url, "location": { "scriptId": "42", "lineNumber": generated, "columnNumber": 4 } }] });
        assert_eq!(scripts.paused_at(&paused, root), Some(("node/events/x.ts".to_string(), 7)));
    }

    #[test]
    fn a_pause_elsewhere_is_shown_by_its_url_and_generated_line() {
        let root = Path::new("/home/dev/app");
        let mut scripts = Scripts::default();
        scripts.parsed(&json!({ "scriptId": "7", "url": "node:internal/timers", "sourceMapURL": "" }), root);
        let paused = json!({ "callFrames": [{ "location": { "scriptId": "7", "lineNumber": 9, "columnNumber": 0 } }] });
        assert_eq!(scripts.paused_at(&paused, root), Some(("node:internal/timers".to_string(), 10)));
        let lib = "file:///home/dev/app/node/node_modules/lib/index.js";
        scripts.parsed(&json!({ "scriptId": "8", "url": lib, "sourceMapURL": "data:,x" }), root);
        let paused = json!({ "callFrames": [{ "location": { "scriptId": "8", "lineNumber": 0 } }] });
        assert_eq!(scripts.paused_at(&paused, root), Some(("node/node_modules/lib/index.js".to_string(), 1)));
        scripts.clear();
        assert_eq!(scripts.paused_at(&paused, root), None, "no url known for a script of a process gone");
        assert_eq!(scripts.paused_at(&json!({}), root), None);
    }
}
