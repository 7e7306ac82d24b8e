//! The dashboard's front end, shipped inside the binary: every file under web/ that the page
//! loads (`/_ioctl/` is index.html, `/_ioctl/static/<path>` the others), with its content type.
//! web/test/ and web/package.json are the front end's own tooling and are not shipped.

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// (path under web/, content type, content). A new file under web/ must be added here: the test
/// below fails until it is.
pub const FILES: &[(&str, &str, &str)] = &[
    ("api.js", JS, include_str!("web/api.js")),
    ("app.js", JS, include_str!("web/app.js")),
    ("components.js", JS, include_str!("web/components.js")),
    ("favicon.svg", SVG, include_str!("web/favicon.svg")),
    ("index.html", HTML, include_str!("web/index.html")),
    ("live.js", JS, include_str!("web/live.js")),
    ("style.css", CSS, include_str!("web/style.css")),
    ("lib/dispatch.js", JS, include_str!("web/lib/dispatch.js")),
    ("lib/events_model.js", JS, include_str!("web/lib/events_model.js")),
    ("lib/filters.js", JS, include_str!("web/lib/filters.js")),
    ("lib/flow.js", JS, include_str!("web/lib/flow.js")),
    ("lib/format.js", JS, include_str!("web/lib/format.js")),
    ("lib/json_check.js", JS, include_str!("web/lib/json_check.js")),
    ("lib/ring.js", JS, include_str!("web/lib/ring.js")),
    ("lib/route.js", JS, include_str!("web/lib/route.js")),
    ("lib/schema_form.js", JS, include_str!("web/lib/schema_form.js")),
    ("lib/virtual.js", JS, include_str!("web/lib/virtual.js")),
    ("lib/waterfall.js", JS, include_str!("web/lib/waterfall.js")),
    ("pages/data.js", JS, include_str!("web/pages/data.js")),
    ("pages/dead_letters.js", JS, include_str!("web/pages/dead_letters.js")),
    ("pages/events.js", JS, include_str!("web/pages/events.js")),
    ("pages/logs.js", JS, include_str!("web/pages/logs.js")),
    ("pages/overview.js", JS, include_str!("web/pages/overview.js")),
    ("pages/requests.js", JS, include_str!("web/pages/requests.js")),
    ("vendor/htm-preact.js", JS, include_str!("web/vendor/htm-preact.js")),
    ("pages/data/masterdata.js", JS, include_str!("web/pages/data/masterdata.js")),
    ("pages/data/settings.js", JS, include_str!("web/pages/data/settings.js")),
    ("pages/data/vbase.js", JS, include_str!("web/pages/data/vbase.js")),
];

/// The content type and content of the shipped file at `path` (under web/, e.g. `pages/events.js`);
/// only exact paths of [`FILES`] match, so nothing outside them is reachable.
pub fn find(path: &str) -> Option<(&'static str, &'static str)> {
    FILES.iter().find(|(p, _, _)| *p == path).map(|(_, content_type, content)| (*content_type, *content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every file under web/ but the front end's tooling, as paths relative to web/.
    fn shipped_on_disk() -> Vec<String> {
        let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/session/dashboard/web");
        let mut out = Vec::new();
        let mut dirs = vec![web.clone()];
        while let Some(dir) = dirs.pop() {
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
            for entry in entries {
                let path = entry.expect("a directory entry").path();
                let rel = path.strip_prefix(&web).expect("under web/").to_string_lossy().replace('\\', "/");
                if rel == "test" || rel == "node_modules" || rel == "package.json" {
                    continue;
                }
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    out.push(rel);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn every_shipped_file_is_listed() {
        let listed: Vec<&str> = FILES.iter().map(|(p, _, _)| *p).collect();
        let missing: Vec<String> = shipped_on_disk().into_iter().filter(|p| !listed.contains(&p.as_str())).collect();
        assert!(missing.is_empty(), "files under src/session/dashboard/web/ missing from assets::FILES: {missing:?}");
    }

    #[test]
    fn listed_files_exist_once_with_a_type_for_their_extension() {
        let on_disk = shipped_on_disk();
        for (i, (path, content_type, content)) in FILES.iter().enumerate() {
            assert!(on_disk.iter().any(|p| p == path), "assets::FILES lists {path}, which is not under web/");
            assert!(!FILES[..i].iter().any(|(p, _, _)| p == path), "assets::FILES lists {path} twice");
            assert!(!content.is_empty(), "{path} is empty");
            let expected = match path.rsplit('.').next() {
                Some("js") => JS,
                Some("css") => CSS,
                Some("html") => HTML,
                Some("svg") => SVG,
                other => panic!("{path}: no content type for extension {other:?}"),
            };
            assert_eq!(*content_type, expected, "{path}");
        }
    }

    #[test]
    fn find_matches_exact_paths_only() {
        let (content_type, content) = find("app.js").expect("app.js is shipped");
        assert_eq!(content_type, JS);
        assert!(content.contains("render("));
        assert!(find("pages/events.js").is_some());
        assert!(find("vendor/htm-preact.js").is_some());
        for absent in ["", "/app.js", "../app.js", "test/ring.test.js", "package.json", "pages/../app.js"] {
            assert!(find(absent).is_none(), "{absent:?} must not be found");
        }
    }
}
