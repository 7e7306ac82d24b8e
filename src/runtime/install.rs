//! The runtime on disk, in a cache shared by every session and every IOCTL_HOME: the host's
//! JavaScript and the `@vtex/api` stand-in (embedded in the binary), written once per version
//! of them with bundle.js (the same sources in one file, for loader.js), and the runtime's npm
//! packages (koa and its companions, pinned by an embedded package-lock.json) installed once.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};

use crate::private_fs;
use crate::stable_hash::fnv1a;
use crate::terminal::Terminal;

/// Every file of the runtime's JavaScript, as (path under the runtime folder, text). (The
/// fixtures in src/runtime/fixtures/ are test data of protocol.rs's and the host's tests, not
/// runtime files.)
const FILES: &[(&str, &str)] = &[
    ("host.js", include_str!("js/host.js")),
    ("loader.js", include_str!("js/loader.js")),
    ("packages.js", include_str!("js/packages.js")),
    ("host/auth.js", include_str!("js/host/auth.js")),
    ("host/code_cache.js", include_str!("js/host/code_cache.js")),
    ("host/context.js", include_str!("js/host/context.js")),
    ("host/errors.js", include_str!("js/host/errors.js")),
    ("host/events.js", include_str!("js/host/events.js")),
    ("host/identity.js", include_str!("js/host/identity.js")),
    ("host/intercept.js", include_str!("js/host/intercept.js")),
    ("host/inspect.js", include_str!("js/host/inspect.js")),
    ("host/graphql/directives.js", include_str!("js/host/graphql/directives.js")),
    ("host/graphql/scalars.js", include_str!("js/host/graphql/scalars.js")),
    ("host/graphql/schema.js", include_str!("js/host/graphql/schema.js")),
    ("host/graphql/serve.js", include_str!("js/host/graphql/serve.js")),
    ("host/logging.js", include_str!("js/host/logging.js")),
    ("host/messages.js", include_str!("js/host/messages.js")),
    ("host/modules.js", include_str!("js/host/modules.js")),
    ("host/preload.js", include_str!("js/host/preload.js")),
    ("host/typescript.js", include_str!("js/host/typescript.js")),
    ("host/routes.js", include_str!("js/host/routes.js")),
    ("host/platform.js", include_str!("js/host/platform.js")),
    ("host/request_window.js", include_str!("js/host/request_window.js")),
    ("host/send_event.js", include_str!("js/host/send_event.js")),
    ("host/settings.js", include_str!("js/host/settings.js")),
    ("host/source_maps.js", include_str!("js/host/source_maps.js")),
    ("host/service.js", include_str!("js/host/service.js")),
    ("host/transport.js", include_str!("js/host/transport.js")),
    ("vtex-api/package.json", include_str!("js/vtex-api/package.json")),
    ("vtex-api/index.js", include_str!("js/vtex-api/index.js")),
    ("vtex-api/apps.js", include_str!("js/vtex-api/apps.js")),
    ("vtex-api/clients.js", include_str!("js/vtex-api/clients.js")),
    ("vtex-api/constants.js", include_str!("js/vtex-api/constants.js")),
    ("vtex-api/errors.js", include_str!("js/vtex-api/errors.js")),
    ("vtex-api/graphql_client.js", include_str!("js/vtex-api/graphql_client.js")),
    ("vtex-api/hooks.js", include_str!("js/vtex-api/hooks.js")),
    ("vtex-api/http.js", include_str!("js/vtex-api/http.js")),
    ("vtex-api/io_clients.js", include_str!("js/vtex-api/io_clients.js")),
    ("vtex-api/lazy.js", include_str!("js/vtex-api/lazy.js")),
    ("vtex-api/limiter.js", include_str!("js/vtex-api/limiter.js")),
    ("vtex-api/logger.js", include_str!("js/vtex-api/logger.js")),
    ("vtex-api/masterdata.js", include_str!("js/vtex-api/masterdata.js")),
    ("vtex-api/not_emulated.js", include_str!("js/vtex-api/not_emulated.js")),
    ("vtex-api/platform.js", include_str!("js/vtex-api/platform.js")),
    ("vtex-api/local_platform.js", include_str!("js/vtex-api/local_platform.js")),
    ("vtex-api/service.js", include_str!("js/vtex-api/service.js")),
    ("vtex-api/caches.js", include_str!("js/vtex-api/caches.js")),
    ("vtex-api/outbound.js", include_str!("js/vtex-api/outbound.js")),
    ("vtex-api/boundary.js", include_str!("js/vtex-api/boundary.js")),
    ("vtex-api/tenant.js", include_str!("js/vtex-api/tenant.js")),
    ("vtex-api/license_manager.js", include_str!("js/vtex-api/license_manager.js")),
    ("vtex-api/segment.js", include_str!("js/vtex-api/segment.js")),
    ("vtex-api/session.js", include_str!("js/vtex-api/session.js")),
    ("vtex-api/utils.js", include_str!("js/vtex-api/utils.js")),
    ("vtex-api/vbase.js", include_str!("js/vtex-api/vbase.js")),
    ("vtex-clients/package.json", include_str!("js/vtex-clients/package.json")),
    ("vtex-clients/index.js", include_str!("js/vtex-clients/index.js")),
];

/// The runtime's pinned npm package set.
const PACKAGE_JSON: &str = include_str!("js/package.json");
const PACKAGE_LOCK: &str = include_str!("js/package-lock.json");

/// A pinned npm package set: its cache folder's prefix, package.json and package-lock.json.
struct PackageSet {
    prefix: &'static str,
    what: &'static str,
    json: &'static str,
    lock: &'static str,
}

const RUNTIME: PackageSet =
    PackageSet { prefix: "runtime", what: "ioctl's Node runtime packages", json: PACKAGE_JSON, lock: PACKAGE_LOCK };

/// The GraphQL IDE's pinned package set (GraphiQL's static build, React), served by the session.
const IDE: PackageSet = PackageSet {
    prefix: "graphiql",
    what: "the GraphQL IDE's packages",
    json: include_str!("ide/package.json"),
    lock: include_str!("ide/package-lock.json"),
};

/// The type checker's pinned package set: the node builder's TypeScript versions, the real
/// @vtex/api and @vtex/clients declarations and the type-only packages they import.
const TYPECHECK: PackageSet = PackageSet {
    prefix: "typecheck",
    what: "the type checker's packages",
    json: include_str!("typecheck/package.json"),
    lock: include_str!("typecheck/package-lock.json"),
};

/// The type checker's JavaScript (src/runtime/typecheck), written into the cache beside its
/// packages.
const CHECKER_FILES: &[(&str, &str)] = &[
    ("checker.js", include_str!("typecheck/checker.js")),
    ("check.js", include_str!("typecheck/check.js")),
    ("overlay.js", include_str!("typecheck/overlay.js")),
];

/// The type checker in the cache: its entry file and its packages' node_modules.
#[derive(Debug, Clone)]
pub struct TypeChecker {
    pub checker_js: PathBuf,
    pub modules: PathBuf,
}

impl TypeChecker {
    /// The TypeScript of node builder `major`: 3.9.7 for 6.x (and older), 5.5.3 for 7.x on.
    pub fn typescript_for(&self, builder_major: Option<u32>) -> PathBuf {
        match builder_major {
            Some(m) if m >= 7 => self.modules.join("typescript-5.5"),
            _ => self.modules.join("typescript"),
        }
    }
}

/// Installs the type checker's package set (once) and its JavaScript (once per version of it).
pub async fn install_typecheck(terminal: &Terminal) -> anyhow::Result<TypeChecker> {
    let cache = crate::layout::cache()?;
    let packages = install_packages(&cache, &TYPECHECK, terminal).await?;
    let hash = fnv1a(&CHECKER_FILES.iter().flat_map(|(path, text)| [*path, *text]).collect::<Vec<_>>());
    let dir = cache.join(format!("checker-{hash:016x}"));
    install_files(&cache, &dir, CHECKER_FILES)?;
    Ok(TypeChecker { checker_js: dir.join("checker.js"), modules: packages.join("node_modules") })
}

/// Writes `files` into `dir` through a temp folder renamed into place, unless it is there.
fn install_files(cache: &Path, dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    private_fs::not_a_link(dir)?;
    let last = files.last().map(|(p, _)| dir.join(p));
    if last.as_ref().is_some_and(|p| p.is_file()) {
        return Ok(());
    }
    private_fs::root(cache)?;
    let tmp = temp_dir_for(cache, dir);
    let _ = std::fs::remove_dir_all(&tmp);
    private_fs::dir(cache, &tmp)?;
    let written = files
        .iter()
        .try_for_each(|(path, text)| write_private(&tmp.join(path), text))
        .and_then(|()| std::fs::rename(&tmp, dir).with_context(|| format!("{}: cannot move here", dir.display())));
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        if !last.is_some_and(|p| p.is_file()) {
            return Err(e);
        }
    }
    Ok(())
}

/// Where the runtime's files are, for starting a Node host.
#[derive(Debug, Clone)]
pub struct Installed {
    dir: PathBuf,
    modules: PathBuf,
    /// The V8 code caches' folder (host/code_cache.js), `None` when it could not be made:
    /// the hosts then compile everything, as they would the first time.
    code_cache: Option<PathBuf>,
}

impl Installed {
    /// What a standby preloads of the runtime before any version of the app has loaded (its
    /// first build failed): Koa for an app with routes or GraphQL, the schema builder for GraphQL.
    pub fn parts_for(&self, routes: bool, graphql: bool) -> Vec<String> {
        let mut parts = Vec::new();
        if routes || graphql {
            parts.extend(["koa", "cookies"].map(|p| self.modules.join(p)));
        }
        if graphql {
            parts.extend(["host/graphql/schema.js", "host/graphql/serve.js"].map(|p| self.dir.join(p)));
        }
        parts.into_iter().map(|p| p.to_string_lossy().into_owned()).collect()
    }

    /// The host's entry file (what `node` runs): bundle.js, which runs host.js through loader.js.
    pub fn host_js(&self) -> PathBuf {
        self.dir.join(BUNDLE)
    }

    /// The folder of the runtime's JavaScript (stack frames in it are ioctl's, not the app's).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Environment variables the host needs: where the runtime's npm packages are, and where
    /// the code caches of the app's modules go.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        let mut env = vec![("IOCTL_RUNTIME_MODULES", self.modules.clone())];
        env.extend(self.code_cache.clone().map(|dir| ("IOCTL_CODE_CACHE", dir)));
        env
    }
}

/// Puts the runtime's JavaScript and its npm packages into the shared cache, unless they are
/// there already (then this is a few stat calls).
pub async fn install_runtime(terminal: &Terminal) -> anyhow::Result<Installed> {
    let cache = crate::layout::cache()?;
    let dir = install_host_files(&cache)?;
    let packages = install_packages(&cache, &RUNTIME, terminal).await?;
    let code_cache = crate::layout::code_cache(&cache);
    let code_cache = private_fs::dir(&cache, &code_cache).is_ok().then_some(code_cache);
    Ok(Installed { dir, modules: packages.join("node_modules"), code_cache })
}

/// Installs the GraphQL IDE's package set into the shared cache (once); its node_modules.
pub async fn install_ide(terminal: &Terminal) -> anyhow::Result<PathBuf> {
    Ok(install_packages(&crate::layout::cache()?, &IDE, terminal).await?.join("node_modules"))
}

/// The file `node` runs: every runtime module's source, handed to loader.js.
const BUNDLE: &str = "bundle.js";

/// The runtime's JavaScript folder in the cache: `host-<hash of its files>`, so a folder's
/// content never changes once written (loader.js's code cache relies on that).
fn host_dir(cache: &Path) -> PathBuf {
    static HASH: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let hash = HASH.get_or_init(|| fnv1a(&FILES.iter().flat_map(|(path, text)| [*path, *text]).collect::<Vec<_>>()));
    cache.join(format!("host-{hash:016x}"))
}

/// bundle.js: loader.js runs host.js from these sources (package.json files and loader.js
/// itself are read from disk).
fn bundle() -> String {
    let sources: serde_json::Map<String, serde_json::Value> = FILES
        .iter()
        .filter(|(path, _)| path.ends_with(".js") && *path != "loader.js")
        .map(|(path, text)| ((*path).to_string(), serde_json::Value::from(*text)))
        .collect();
    let sources = serde_json::to_string(&sources).unwrap_or_default();
    format!("'use strict'\n// Written by ioctl: the runtime's modules, for loader.js to run.\nrequire('./loader').run(module, {sources})\n")
}

/// Writes the runtime's files and bundle.js into a temp folder, then renames it into place: a
/// host never sees half a runtime, and of two sessions writing at once the second keeps the
/// first's.
fn install_host_files(cache: &Path) -> anyhow::Result<PathBuf> {
    let dir = host_dir(cache);
    private_fs::not_a_link(&dir)?;
    if dir.join(BUNDLE).is_file() {
        private_fs::not_a_link(&dir.join(BUNDLE))?;
        return Ok(dir);
    }
    private_fs::root(cache)?;
    let tmp = temp_dir_for(cache, &dir);
    let _ = std::fs::remove_dir_all(&tmp);
    let written = write_host_files(cache, &tmp)
        .and_then(|()| std::fs::rename(&tmp, &dir).with_context(|| format!("{}: cannot move here", dir.display())));
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        if !dir.join(BUNDLE).is_file() {
            return Err(e);
        }
    }
    Ok(dir)
}

fn write_host_files(cache: &Path, dir: &Path) -> anyhow::Result<()> {
    let bundle = bundle();
    for (path, text) in FILES.iter().copied().chain([(BUNDLE, bundle.as_str())]) {
        let path = dir.join(path);
        private_fs::dir(cache, path.parent().unwrap_or(dir))?;
        write_private(&path, text)?;
    }
    Ok(())
}

/// A file only the user can read or write (0600, no link followed), on disk before the folder
/// is renamed into place (a crash right after must not leave a truncated runtime that every
/// later link would run).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = private_fs::create(path, true)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// A temp folder beside `dir` in the cache, unique per process and per install in it (two apps
/// of a session may link at once).
fn temp_dir_for(cache: &Path, dir: &Path) -> PathBuf {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    cache.join(format!(
        ".{}.tmp-{}-{}",
        dir.file_name().and_then(|n| n.to_str()).unwrap_or("runtime"),
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ))
}

/// Every pinned package set (what `ioctl packages install` puts into an npm package).
const SETS: &[&PackageSet] = &[&RUNTIME, &IDE, &TYPECHECK];

/// The pinned package sets (what they are, their folder in `cache`, whether installed), for
/// `ioctl doctor`.
pub fn package_sets(cache: &Path) -> Vec<(&'static str, PathBuf, bool)> {
    SETS.iter()
        .map(|set| {
            let dir = packages_dir(cache, set);
            let installed = dir.join("node_modules").is_dir();
            (set.what, dir, installed)
        })
        .collect()
}

/// npm as a link would run it (see [`npm`]).
pub fn npm_path() -> PathBuf {
    npm()
}

/// The folder of a package set in the cache: `runtime-<hash of package.json + lockfile>`.
fn packages_dir(cache: &Path, set: &PackageSet) -> PathBuf {
    cache.join(format!("{}-{:016x}", set.prefix, fnv1a(&[set.json, set.lock])))
}

/// "koa 2.16.4, cookies 0.9.1, ...": the package set's direct dependencies, for the progress line.
fn package_names(set: &PackageSet) -> String {
    let manifest: serde_json::Value = serde_json::from_str(set.json).unwrap_or_default();
    let deps = manifest["dependencies"].as_object().cloned().unwrap_or_default();
    deps.iter().map(|(name, v)| format!("{name} {}", v.as_str().unwrap_or("?"))).collect::<Vec<_>>().join(", ")
}

/// `ioctl packages install --into DIR`: every pinned package set installed into `dir` as the
/// cache holds them (`runtime-HASH/node_modules`...): npm/pack.sh puts them into the platform
/// package, whose launcher names the folder in `IOCTL_PACKAGES`.
pub async fn install_all_into(dir: &Path, terminal: &Terminal) -> anyhow::Result<Vec<PathBuf>> {
    private_fs::root(dir)?;
    let mut installed = Vec::new();
    for set in SETS {
        installed.push(install_packages(dir, set, terminal).await?);
    }
    Ok(installed)
}

/// Where a package set installed ahead of time is (`$IOCTL_PACKAGES/<prefix>-<hash>`, as an npm
/// install of ioctl carries them), if it is there.
fn bundled(set: &PackageSet) -> Option<PathBuf> {
    let root = PathBuf::from(std::env::var_os("IOCTL_PACKAGES").filter(|d| !d.is_empty())?);
    let dir = packages_dir(&root, set);
    dir.join("node_modules").is_dir().then_some(dir)
}

/// Copies a package set's tree (files, folders, and npm's relative `.bin` links as links); not
/// its mark of a private tree: the copy is made private on its own.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    let walk = walkdir::WalkDir::new(from).follow_links(false).into_iter();
    for entry in walk.filter_entry(|e| !(e.depth() == 1 && e.file_name() == PRIVATE_MARK)) {
        let entry = entry.with_context(|| format!("{}: cannot read", from.display()))?;
        let target = to.join(entry.path().strip_prefix(from).unwrap_or(entry.path()));
        let kind = entry.file_type();
        let copied = if kind.is_dir() {
            std::fs::create_dir_all(&target)
        } else if kind.is_symlink() {
            std::fs::read_link(entry.path()).and_then(|link| std::os::unix::fs::symlink(link, &target))
        } else {
            std::fs::copy(entry.path(), &target).map(|_| ())
        };
        copied.with_context(|| format!("{}: cannot copy to {}", entry.path().display(), target.display()))?;
    }
    Ok(())
}

/// Installs the package set with `npm ci` (or copies it from [`bundled`], with no network)
/// into a temp folder beside its final place, then renames it there: a session never sees a
/// half install, and of two installing at once the second to finish drops its copy and uses
/// the first's.
async fn install_packages(cache: &Path, set: &PackageSet, terminal: &Terminal) -> anyhow::Result<PathBuf> {
    let dir = packages_dir(cache, set);
    private_fs::not_a_link(&dir)?;
    if dir.join("node_modules").is_dir() {
        made_private(&dir)?;
        return Ok(dir);
    }
    let tmp = temp_dir_for(cache, &dir);
    let _ = std::fs::remove_dir_all(&tmp);
    private_fs::dir(cache, &tmp)?;
    let started = Instant::now();
    let result = match bundled(set) {
        Some(from) => {
            terminal.info(format!("copying {} from {} into {}, once", set.what, from.display(), dir.display())).await;
            let _ = std::fs::remove_dir(&tmp);
            copy_tree(&from, &tmp)
        }
        None => {
            terminal
                .info(format!("installing {} ({}) into {}, once", set.what, package_names(set), dir.display()))
                .await;
            npm_ci(&tmp, set).await
        }
    }
    .and_then(|()| made_private(&tmp));
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        // Another session finished first: its install is as good as ours.
        if !dir.join("node_modules").is_dir() {
            return Err(e).with_context(|| format!("{}: cannot move the installed packages here", dir.display()));
        }
    }
    terminal.info(format!("installed in {:.1} s", started.elapsed().as_secs_f64())).await;
    Ok(dir)
}

/// Written into a package set's folder once its tree is private (npm makes files 0644): an
/// install without it (by an older ioctl) is made private at its next use, once.
const PRIVATE_MARK: &str = ".private";

/// Makes a package set's installed tree private (folders 0700, files 0600, executables 0700;
/// npm's links are not followed), unless it was already.
fn made_private(dir: &Path) -> anyhow::Result<()> {
    let mark = dir.join(PRIVATE_MARK);
    if mark.is_file() {
        return Ok(());
    }
    private_fs::make_tree_private(dir)?;
    private_fs::write(&mark, b"")
}

/// npm: beside `$IOCTL_NODE` when that is set and has one, else `npm` on PATH.
fn npm() -> PathBuf {
    std::env::var_os("IOCTL_NODE")
        .map(PathBuf::from)
        .and_then(|node| node.parent().map(|bin| bin.join("npm")))
        .filter(|npm| npm.is_file())
        .unwrap_or_else(|| PathBuf::from("npm"))
}

async fn npm_ci(dir: &Path, set: &PackageSet) -> anyhow::Result<()> {
    for (name, text) in [("package.json", set.json), ("package-lock.json", set.lock)] {
        private_fs::write(&dir.join(name), text.as_bytes())?;
    }
    let npm = npm();
    let out = tokio::process::Command::new(&npm)
        .args(["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"])
        .args([
            "--loglevel=error",
            "--fetch-retries=2",
            "--fetch-retry-mintimeout=1000",
            "--fetch-retry-maxtimeout=5000",
        ])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "npm not found ({}): ioctl installs {} with npm once; install Node.js's npm and put it on PATH",
            npm.display(),
            set.what
        ),
        Err(e) => bail!("cannot run npm ({}): {e}", npm.display()),
    };
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    // npm's own stack frames and `code`/`errno` lines say nothing the first message does not.
    let lines = stderr.lines().map(|l| l.trim_start_matches("npm error").trim());
    let lines: Vec<&str> = lines
        .filter(|l| !l.is_empty() && !l.starts_with("at ") && !l.starts_with("code ") && !l.starts_with("syscall "))
        .filter(|l| !l.starts_with("errno ") && !l.starts_with("A complete log of this run"))
        .collect();
    let why = lines.iter().take(3).copied().collect::<Vec<_>>().join("; ");
    if is_network_failure(&stderr) {
        bail!(
            "cannot reach the npm registry to install {} ({why}): run ioctl once with network, or set npm's registry (npm config set registry URL)",
            set.what
        );
    }
    bail!("npm ci of {} failed in {} ({}): {why}", set.what, dir.display(), out.status)
}

fn is_network_failure(stderr: &str) -> bool {
    ["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENETUNREACH", "EHOSTUNREACH", "network"]
        .iter()
        .any(|code| stderr.contains(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every runtime file on disk is embedded: one left out would only fail at a user's link.
    #[test]
    fn every_runtime_js_file_is_embedded() {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().to_string();
                if path.is_dir() {
                    if name != "node_modules" && name != "test" {
                        walk(&path, base, out);
                    }
                } else if name.ends_with(".js") {
                    out.push(path.strip_prefix(base).unwrap().to_string_lossy().to_string());
                }
            }
        }
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime/js");
        let mut on_disk = Vec::new();
        walk(&base, &base, &mut on_disk);
        for file in on_disk {
            assert!(FILES.iter().any(|(path, _)| *path == file), "src/runtime/js/{file} is not in install.rs's FILES");
        }
    }

    #[test]
    fn the_cache_folder_is_keyed_by_the_package_set() {
        let dir = packages_dir(Path::new("/c"), &RUNTIME);
        let name = dir.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("runtime-") && name.len() == "runtime-".len() + 16, "{name}");
        assert!(package_names(&RUNTIME).contains("koa 2."), "{}", package_names(&RUNTIME));
        // VTEX's runtime builds schemas with graphql-js 14 and graphql-tools 4.
        assert!(package_names(&RUNTIME).contains("graphql 14."), "{}", package_names(&RUNTIME));
        assert!(package_names(&RUNTIME).contains("graphql-tools 4."), "{}", package_names(&RUNTIME));
        assert!(packages_dir(Path::new("/c"), &IDE).to_string_lossy().starts_with("/c/graphiql-"));
        // The node builder's TypeScript versions, and the real @vtex/api's declarations.
        let names = package_names(&TYPECHECK);
        for pinned in
            ["typescript 3.9.7", "typescript-5.5 npm:typescript@5.5.3", "@vtex/api 6.51.3", "@vtex/clients 2."]
        {
            assert!(names.contains(pinned), "{names}");
        }
    }

    /// The host's files go into the cache once, private to the user, bundle.js among them.
    #[test]
    fn the_host_files_are_written_once_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let cache = std::env::temp_dir().join(format!("ioctl-install-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        let dir = install_host_files(&cache).unwrap();
        assert!(dir.file_name().unwrap().to_str().unwrap().starts_with("host-"), "{}", dir.display());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("host/graphql")), 0o700);
        assert_eq!(mode(&dir.join("vtex-api/index.js")), 0o600);
        let bundle = std::fs::read_to_string(dir.join(BUNDLE)).unwrap();
        assert!(bundle.contains("require('./loader').run(module, {") && bundle.contains("\"host/events.js\":"));
        assert!(!bundle.contains("\"loader.js\":"), "loader.js is read from disk");
        // A second install finds it in place and writes nothing.
        std::fs::write(dir.join("host.js"), "changed").unwrap();
        assert_eq!(install_host_files(&cache).unwrap(), dir);
        assert_eq!(std::fs::read_to_string(dir.join("host.js")).unwrap(), "changed");
        let leftovers: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().filter(|e| e.path() != dir).collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        std::fs::remove_dir_all(&cache).unwrap();
    }

    /// npm's tree is made private once: folders 0700, files 0600, executables 0700.
    #[test]
    fn an_installed_package_set_is_made_private_once() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let pkgs = dir.path().join("runtime-0");
        let file = pkgs.join("node_modules/koa/index.js");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        made_private(&pkgs).unwrap();
        assert_eq!((mode(&pkgs.join("node_modules/koa")), mode(&file)), (0o700, 0o600));
        assert!(pkgs.join(PRIVATE_MARK).is_file());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        made_private(&pkgs).unwrap();
        assert_eq!(mode(&file), 0o644, "walked once, not at every link");
    }

    #[test]
    fn network_failures_are_told_apart() {
        assert!(is_network_failure("npm error code ENOTFOUND\nnpm error request to https://r/koa failed"));
        assert!(!is_network_failure("npm error code EUSAGE"));
    }
}
