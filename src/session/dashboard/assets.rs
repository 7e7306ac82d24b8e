//! (placeholder until the front end lands: the page's files shipped inside the binary)

/// `(content type, text)` of a file under web/.
pub fn find(_path: &str) -> Option<(&'static str, &'static str)> {
    None
}
