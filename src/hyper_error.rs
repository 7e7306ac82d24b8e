//! hyper-util's client errors as what they wrap: "client error (Connect)" says less than the
//! connection's own "Connection refused" or "No such file or directory". Shared by the client
//! commands and the session's connections to the apps (neither imports the other).

use anyhow::anyhow;

/// The error's causes, joined (`first: second: ...`), or the error itself when it has none.
pub fn unwrapped(e: hyper_util::client::legacy::Error) -> anyhow::Error {
    let mut causes = std::iter::successors(std::error::Error::source(&e), |c| c.source()).map(ToString::to_string);
    match causes.next() {
        Some(first) => anyhow!(causes.fold(first, |text, cause| format!("{text}: {cause}"))),
        None => e.into(),
    }
}
