//! Why linking an app did not give a running version: problems in the user's files, shown as
//! positioned diagnostics (and survived), or an internal failure of ioctl or its
//! surroundings. Build, load and start all return it, so `?` works across them.

use crate::app::LoadError;
use crate::diagnostic::Diagnostic;

#[derive(Debug)]
pub enum Failure {
    /// The user's files are wrong: show these, then "App build failed".
    App(Vec<Diagnostic>),
    /// Something outside the app went wrong (Node missing, a socket, the disk, ...).
    Internal(anyhow::Error),
}

impl From<Diagnostic> for Failure {
    fn from(d: Diagnostic) -> Failure {
        Failure::App(vec![d])
    }
}

impl From<Vec<Diagnostic>> for Failure {
    fn from(d: Vec<Diagnostic>) -> Failure {
        Failure::App(d)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Internal(e)
    }
}

impl From<LoadError> for Failure {
    fn from(e: LoadError) -> Failure {
        match e {
            LoadError::Diagnostic(d) => d.into(),
            LoadError::Other(e) => e.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::App(diags) => {
                let first = diags.first().map_or("the app has problems", |d| d.message.as_str());
                write!(f, "{first}")
            }
            Failure::Internal(e) => write!(f, "{e:#}"),
        }
    }
}
