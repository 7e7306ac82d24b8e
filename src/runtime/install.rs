//! The runtime's files on disk: host.js and the `@vtex/api` stand-in (embedded in the binary)
//! written where a linked app's Node process loads them, and the environment that points
//! the process at them.

use std::path::{Path, PathBuf};

use anyhow::Context;

const HOST_JS: &str = include_str!("js/host.js");
const KOA_JS: &str = include_str!("js/koa.js");
const VTEX_API_JS: &str = include_str!("js/vtex_api.js");

/// Where the runtime's files are, for starting a Node host.
#[derive(Debug, Clone)]
pub struct Installed {
    dir: PathBuf,
}

impl Installed {
    /// The host's entry file (what `node` runs).
    pub fn host_js(&self) -> PathBuf {
        self.dir.join("host.js")
    }

    /// Environment variables the host needs to find the runtime's modules.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![("IOCTL_VTEX_API", self.dir.join("vtex-api"))]
    }
}

/// Writes host.js and the @vtex/api stand-in under node/.ioctl/runtime (only when changed).
pub fn install_runtime(node_dir: &Path) -> anyhow::Result<Installed> {
    let ioctl_dir = node_dir.join(crate::build::IOCTL_DIR);
    let runtime = ioctl_dir.join("runtime");
    std::fs::create_dir_all(runtime.join("vtex-api"))
        .with_context(|| format!("{}: cannot create folder", runtime.display()))?;
    for (path, text) in [
        (ioctl_dir.join(".gitignore"), "# written by ioctl: build output, not source\n*\n"),
        (runtime.join("host.js"), HOST_JS),
        (runtime.join("koa.js"), KOA_JS),
        (runtime.join("vtex-api/index.js"), VTEX_API_JS),
        (
            runtime.join("vtex-api/package.json"),
            "{\"name\":\"@vtex/api\",\"version\":\"6.0.0-ioctl\",\"main\":\"index.js\"}\n",
        ),
    ] {
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
            std::fs::write(&path, text).with_context(|| format!("{}: cannot write", path.display()))?;
        }
    }
    Ok(Installed { dir: runtime })
}
