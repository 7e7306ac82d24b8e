//! Command-line interface: clap's raw flags, validated into the options the commands take.
//! Nothing outside this module sees clap types.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::app::AppId;
use crate::protocol::Scope;
use crate::terminal::{ColorChoice, Format};

#[derive(Debug, Parser)]
#[command(
    name = "ioctl",
    version,
    about = "Run and test VTEX IO Node service apps locally: link, events, logs — no VTEX account needed"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour output: auto (a terminal, unless NO_COLOR is set), always or never
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// Seconds to wait for the link session to answer a request before giving up
    #[arg(long, global = true, value_name = "SECONDS", default_value = "10", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Keep app settings, VBase and Master Data in this PostgreSQL database
    /// (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE) instead of SQLite files under IOCTL_HOME,
    /// for `link` and the storage commands; a team points every machine at the same one
    #[arg(long, global = true, value_name = "URL", env = "IOCTL_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// Join the team workspace on this NATS server (nats://[USER:PASSWORD@]HOST[:PORT], or
    /// tls://… for TLS): every machine linked with the same account/workspace and server
    /// shares its events and its apps' replicas (see README, "Team workspace")
    #[arg(long, global = true, value_name = "URL", env = "IOCTL_CLUSTER", hide_env_values = true)]
    pub cluster: Option<String>,
    /// With --cluster: connect with this token
    #[arg(long, global = true, value_name = "TOKEN", env = "IOCTL_CLUSTER_TOKEN", hide_env_values = true)]
    pub cluster_token: Option<String>,
    /// With --cluster: connect with this NATS credentials file (a user JWT and its nkey seed)
    #[arg(long, global = true, value_name = "FILE", env = "IOCTL_CLUSTER_CREDS")]
    pub cluster_creds: Option<PathBuf>,
}

/// `--timeout`: a finite number of seconds, 0.1 to 3600.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.1..=3600.0).contains(&v) => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("`{s}` is not a number of seconds from 0.1 to 3600")),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Link an app: build it, run its handlers in Node.js, feed them events, relink on save
    Link(LinkArgs),
    /// Open the sample sender's healthcheck route, which arms it (as on VTEX)
    Healthcheck(ScopeArgs),
    /// Inspect the events of a link session
    #[command(subcommand)]
    Events(EventsCommand),
    /// Run a GraphQL query against a linked app (exit 1 when the result has errors)
    Graphql {
        /// The query (or mutation) text
        query: String,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Variables, a JSON object
        #[arg(long)]
        variables: Option<String>,
        /// The operation to run, when the query holds several
        #[arg(long)]
        operation: Option<String>,
        /// The app (vendor.name, or vendor.name@version) when several linked apps serve GraphQL
        #[arg(long)]
        app: Option<String>,
        /// Who sends it: the local admin, the local shopper, or nobody signed in
        #[arg(long = "as", value_enum, default_value = "admin")]
        as_user: AsUser,
        /// The whole response as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Open the workspace's dashboard: prints a fresh one-time login link and opens it in the browser
    Dashboard {
        #[command(flatten)]
        scope: ScopeArgs,
        /// Only print the link (do not open a browser)
        #[arg(long)]
        no_open: bool,
    },
    /// Run a link session in the background (started by `ioctl link`; not for direct use)
    #[command(hide = true)]
    SessionServe(SessionArgs),
    /// Show the link session of an account/workspace and its event counts
    Status {
        #[command(flatten)]
        scope: ScopeArgs,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
    /// App settings of a workspace: show them, or set them (checked against settingsSchema)
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// VBase files of a workspace: list, read, write, remove
    #[command(subcommand)]
    Vbase(VbaseCommand),
    /// Master Data documents of an account: search, import, export
    #[command(subcommand)]
    Masterdata(MasterdataCommand),
    /// A workspace's local data (settings, VBase, Master Data): export, import, reset
    #[command(subcommand)]
    Data(DataCommand),
    /// A workspace's platform settings: the local users, the tenant's locale and currency, the segment
    #[command(subcommand)]
    Platform(PlatformCommand),
    /// The apps' outbound calls (to VTEX's services and apps) and who answered them
    #[command(subcommand)]
    Calls(CallsCommand),
    /// Put the real @vtex/api declarations into node/node_modules for the editor and tsc (and node/tsconfig.json if missing)
    Setup {
        /// The app folder (default: the current folder, or the nearest above it with manifest.json)
        app_dir: Option<PathBuf>,
    },
    /// Create an app from a template
    #[command(about = crate::init::about(), long_about = None)]
    Init {
        /// Template name
        template: String,
        /// Folder to create
        dir: PathBuf,
    },
    /// Check this machine for what ioctl needs (Node.js, npm, its folders, loopback...), each problem with its fix
    Doctor,
    /// Print a shell's completion script (e.g. `source <(ioctl completions bash)`)
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Install the pinned Node package sets into a folder (npm/pack.sh: the npm package carries them)
    #[command(hide = true)]
    Packages {
        /// The folder (as the cache holds them: runtime-HASH/, graphiql-HASH/...)
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
    },
    /// Print the manual page (roff), or write one per command into a folder
    Man {
        /// Write ioctl.1 and ioctl-COMMAND.1 pages into this folder instead
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `ioctl completions SHELL`: the script for `shell`, from the same definitions clap parses.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "ioctl", out);
}

/// `ioctl man`: the manual page of ioctl (`dir: None`, to `out`), or into `dir` the page of
/// ioctl and one per command (`ioctl-events.1`, `ioctl-events-send.1`...); returns what it wrote.
pub fn manual(dir: Option<&std::path::Path>, out: &mut dyn std::io::Write) -> anyhow::Result<Vec<PathBuf>> {
    use anyhow::Context;
    use clap::CommandFactory;
    let mut command = Cli::command();
    command.build();
    let Some(dir) = dir else {
        clap_mangen::Man::new(command).render(out).context("cannot write the manual page")?;
        return Ok(Vec::new());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the folder", dir.display()))?;
    let mut written = Vec::new();
    let mut pages = vec![("ioctl".to_string(), command)];
    while let Some((name, command)) = pages.pop() {
        for sub in command.get_subcommands().filter(|c| !c.is_hide_set() && c.get_name() != "help") {
            pages.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        let path = dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        let man = clap_mangen::Man::new(command).title(name.to_uppercase());
        man.render(&mut page).with_context(|| format!("cannot render {name}.1"))?;
        std::fs::write(&path, page).with_context(|| format!("{}: cannot write", path.display()))?;
        written.push(path);
    }
    written.sort();
    Ok(written)
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Stream the workspace's events and their deliveries
    Tail {
        #[command(flatten)]
        scope: ScopeArgs,
        /// Only events from this sender (app id, e.g. vtex.events-example)
        #[arg(long)]
        sender: Option<String>,
        /// Only events with this key
        #[arg(long)]
        key: Option<String>,
        /// Only deliveries to this handler (and their events)
        #[arg(long)]
        handler: Option<String>,
        /// Only final failures
        #[arg(long)]
        failed: bool,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Publish an event into the session's account and workspace
    Send {
        /// Event key (e.g. send-event)
        key: String,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Sender app id [default: ioctl.manual]; e.g. vtex.events-example to impersonate it
        #[arg(long)]
        sender: Option<String>,
        /// Event subject
        #[arg(long, default_value = "")]
        subject: String,
        /// JSON body
        #[arg(long, conflicts_with = "data_file")]
        data: Option<String>,
        /// File holding the JSON body
        #[arg(long)]
        data_file: Option<PathBuf>,
        /// Publish the event this many times (publishers wait when handlers fall behind)
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        repeat: u64,
        /// With --repeat: events per second, 0.001 to 100000 [default: as fast as handlers take them]
        #[arg(long, value_name = "PER_SECOND", value_parser = rate, allow_hyphen_values = true)]
        rate: Option<f64>,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// List events whose last delivery attempt failed, with every attempt's error
    Failed {
        #[command(flatten)]
        scope: ScopeArgs,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
        /// Show the newest N failed events (default 100)
        #[arg(long, value_name = "N", conflicts_with = "all")]
        limit: Option<usize>,
        /// Skip the newest N first (the next page)
        #[arg(long, value_name = "N", default_value_t = 0)]
        skip: usize,
        /// Show every failed event kept
        #[arg(long)]
        all: bool,
    },
    /// Fire a realistic platform event (orders-broadcast, broadcaster, apps setup)
    Trigger {
        /// Event name (see --list)
        #[arg(required_unless_present = "list")]
        name: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Override a body field: FIELD=VALUE (VALUE as JSON when it parses, else text)
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
        /// List the events it can fire, with their sender and key
        #[arg(long, conflicts_with = "name")]
        list: bool,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Deliver failed events again
    Replay {
        /// Id of the failed event
        #[arg(required_unless_present = "all_failed", conflicts_with = "all_failed")]
        event_id: Option<String>,
        /// Replay every failed event
        #[arg(long)]
        all_failed: bool,
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Show an app's settings (saved values over settingsSchema defaults)
    Get {
        /// App id (vendor.name) [default: the app in the current folder]
        #[arg(value_parser = app_id)]
        app: Option<AppId>,
        #[command(flatten)]
        scope: ScopeArgs,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
    /// Set an app's settings: [APP] KEY=VALUE... (VALUE as JSON when it parses), or --file
    Set {
        /// [APP] KEY=VALUE...: APP defaults to the app in the current folder
        #[arg(value_name = "[APP] KEY=VALUE")]
        args: Vec<String>,
        /// A JSON file holding the whole settings object
        #[arg(long)]
        file: Option<PathBuf>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum VbaseCommand {
    /// List the files of a bucket (PATH: a prefix)
    Ls {
        #[arg(value_parser = app_id)]
        app: AppId,
        bucket: String,
        prefix: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Print a file
    Get {
        #[arg(value_parser = app_id)]
        app: AppId,
        bucket: String,
        path: String,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Write a file from --data JSON or --file F
    Put {
        #[arg(value_parser = app_id)]
        app: AppId,
        bucket: String,
        path: String,
        /// JSON content
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        data: Option<String>,
        /// File to store
        #[arg(long)]
        file: Option<PathBuf>,
        /// Seconds until the file expires
        #[arg(long)]
        ttl: Option<f64>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Remove a file
    Rm {
        #[arg(value_parser = app_id)]
        app: AppId,
        bucket: String,
        path: String,
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum MasterdataCommand {
    /// Search documents of a data entity
    Search {
        entity: String,
        /// Condition: field=value, <>, <, >, between A AND B, is null, * wildcards, AND/OR, ( )
        #[arg(long = "where", value_name = "W")]
        where_: Option<String>,
        /// Fields to show, comma-separated [default: _all]
        #[arg(long)]
        fields: Option<String>,
        /// field ASC|DESC
        #[arg(long)]
        sort: Option<String>,
        /// Only documents that match this schema of the entity (fields default to its v-default-fields)
        #[arg(long, value_name = "NAME")]
        schema: Option<String>,
        /// Page (from 1)
        #[arg(long, default_value_t = 1)]
        page: usize,
        /// Documents per page (at most 100)
        #[arg(long, default_value_t = 100)]
        page_size: usize,
        #[command(flatten)]
        scope: ScopeArgs,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
    /// Import documents from a JSON array or NDJSON file
    Import {
        entity: String,
        file: PathBuf,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Print every document of a data entity as a JSON array
    Export {
        entity: String,
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Write the workspace's settings, VBase files and the account's Master Data to DIR as JSON
    Export {
        dir: PathBuf,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Save what `data export` wrote (or a fixture folder) into the workspace
    Import {
        dir: PathBuf,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Clear the workspace's settings and VBase files and the account's Master Data
    Reset {
        /// Do not ask
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlatformCommand {
    /// Show the platform settings (what was set, over the defaults)
    Show {
        #[command(flatten)]
        scope: ScopeArgs,
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
    /// Set platform settings: KEY=VALUE... (see `ioctl platform show` for the keys)
    Set {
        /// KEY=VALUE pairs
        #[arg(value_name = "KEY=VALUE", required = true)]
        pairs: Vec<String>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum CallsCommand {
    /// Stream the linked apps' outbound calls with their request and response bodies
    Tail {
        #[command(flatten)]
        scope: ScopeArgs,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
}

/// `ioctl graphql --as`: who the query is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AsUser {
    Admin,
    Shopper,
    Anonymous,
}

impl AsUser {
    /// As the session's `x-ioctl-as` header names it.
    pub fn as_str(self) -> &'static str {
        match self {
            AsUser::Admin => "admin",
            AsUser::Shopper => "shopper",
            AsUser::Anonymous => "anonymous",
        }
    }
}

#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Account [default: $IOCTL_ACCOUNT, else `local`]
    #[arg(short, long, env = "IOCTL_ACCOUNT", default_value = "local", hide_env = true, hide_default_value = true)]
    pub account: String,
    /// Workspace [default: $IOCTL_WORKSPACE, else `dev`]
    #[arg(short, long, env = "IOCTL_WORKSPACE", default_value = "dev", hide_env = true, hide_default_value = true)]
    pub workspace: String,
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// App folder (or any folder inside it) [default: current folder]
    pub app_dir: Option<PathBuf>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Port of the session's local server on 127.0.0.1 [default: a free port]
    #[arg(long)]
    pub port: Option<u16>,
    /// Seconds between events of the sample sender once armed [default: 10]
    #[arg(long)]
    pub sender_interval: Option<f64>,
    /// Do not run the sample vtex.events-example sender
    #[arg(long)]
    pub no_sample_sender: bool,
    /// Link once; do not watch for changes
    #[arg(long)]
    pub no_watch: bool,
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
    /// Answer the app's calls to VTEX from the fixture files (*.json) in DIR (repeatable; reloaded on save)
    #[arg(long, value_name = "DIR")]
    pub fixtures: Vec<PathBuf>,
    /// Send calls nothing local answers to this VTEX account (VTEX_APP_KEY/VTEX_APP_TOKEN, else `vtex login`'s token)
    #[arg(long, value_name = "ACCOUNT")]
    pub cloud: Option<String>,
    /// With --cloud: write each answer into DIR as a fixture file
    #[arg(long, value_name = "DIR", requires = "cloud")]
    pub record: Option<PathBuf>,
    /// With --cloud: let POST, PUT, PATCH and DELETE reach the account
    #[arg(long, requires = "cloud")]
    pub cloud_writes: bool,
    /// Debug the app with an inspector client (VS Code attach, chrome://inspect) at [HOST:]PORT [default: 127.0.0.1:9229]
    #[arg(long, value_name = "[HOST:]PORT", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub inspect: Option<String>,
    /// As --inspect, and pause before the app's first line on each load (waits for a debugger)
    #[arg(long, value_name = "[HOST:]PORT", num_args = 0..=1, require_equals = true, default_missing_value = "", conflicts_with = "inspect")]
    pub inspect_brk: Option<String>,
    /// Do not type-check the app after each good build
    #[arg(long, conflicts_with = "strict_types")]
    pub no_typecheck: bool,
    /// Refuse a build with type errors, as VTEX's node builder does (the previous version keeps running)
    #[arg(long)]
    pub strict_types: bool,
}

#[derive(Debug, Args)]
pub struct SessionArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    #[arg(long, default_value_t = 10.0)]
    pub sender_interval: f64,
    #[arg(long)]
    pub no_sample_sender: bool,
}

impl SessionArgs {
    /// The flags that need checking: the scope and the sample sender's interval. (lib.rs builds
    /// the session's options: nothing outside `session` imports it.)
    pub fn checked(&self) -> Result<(crate::protocol::Scope, Duration), String> {
        Ok((self.scope.scope()?, sender_interval(self.sender_interval)?))
    }
}

/// `events send --rate`, checked against the bounds the session takes it within.
fn rate(text: &str) -> Result<f64, String> {
    use crate::protocol::RATE_RANGE;
    match text.trim().parse::<f64>() {
        Ok(r) if RATE_RANGE.contains(&r) => Ok(r),
        _ => Err(format!("expected events per second from {} to {}", RATE_RANGE.start(), RATE_RANGE.end())),
    }
}

/// An app id argument: `vendor.name`, optionally `@version` (clap names the argument and the
/// text; the message says what an id looks like).
fn app_id(text: &str) -> Result<AppId, String> {
    AppId::parse(text).map_err(|_| crate::app::id::FORM.to_string())
}

fn sender_interval(seconds: f64) -> Result<Duration, String> {
    if !(seconds.is_finite() && seconds >= 0.01) {
        return Err(format!("--sender-interval must be a number of seconds ≥ 0.01, not {seconds}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The longest account or workspace name (each names a folder and a file under `$IOCTL_HOME`).
pub const MAX_SCOPE_NAME: usize = 64;

impl ScopeArgs {
    pub fn scope(&self) -> Result<Scope, String> {
        for (what, v) in [("account", &self.account), ("workspace", &self.workspace)] {
            let ok = !v.is_empty()
                && v.len() <= MAX_SCOPE_NAME
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(format!(
                    "invalid {what} `{}`: use 1 to {MAX_SCOPE_NAME} letters, digits, `-` and `_`",
                    crate::app::clip(v, 60)
                ));
            }
        }
        Ok(Scope { account: self.account.clone(), workspace: self.workspace.clone() })
    }
}

/// Workspace names are case-insensitive on VTEX (they are part of a host name), so `MASTER`
/// or `Master` is the production workspace too: spell it `master`, which link refuses.
fn production_as_master(mut scope: Scope) -> Scope {
    if scope.workspace.eq_ignore_ascii_case("master") {
        scope.workspace = "master".to_string();
    }
    scope
}

impl LinkArgs {
    pub fn options(&self, color: ColorChoice, timeout: Duration) -> Result<crate::client::link::Options, String> {
        Ok(crate::client::link::Options {
            app_dir: self.app_dir.clone().unwrap_or_else(|| PathBuf::from(".")),
            scope: production_as_master(self.scope.scope()?),
            port: self.port.unwrap_or(0),
            sender_interval: sender_interval(self.sender_interval.unwrap_or(10.0))?,
            sample_sender: !self.no_sample_sender,
            session_flags: self.port.is_some() || self.sender_interval.is_some() || self.no_sample_sender,
            watch: !self.no_watch,
            format: Format::detect(self.json, color),
            timeout,
            boundary: crate::client::boundary::Flags {
                fixtures: self.fixtures.clone(),
                cloud: self.cloud.as_deref().map(cloud_account).transpose()?,
                record: self.record.clone(),
                cloud_writes: self.cloud_writes,
            },
            inspect: match (&self.inspect, &self.inspect_brk) {
                (Some(at), _) => Some(inspect_options(at, false)?),
                (None, Some(at)) => Some(inspect_options(at, true)?),
                (None, None) => None,
            },
            typecheck: typecheck_mode(self.no_typecheck, self.strict_types, std::env::var("IOCTL_TYPECHECK").ok())?,
        })
    }
}

/// `--inspect[=[HOST:]PORT]`'s address, as Node reads it: a port alone is on 127.0.0.1, no
/// value is 127.0.0.1:9229. HOST is an IP address or `localhost` (a name could resolve
/// anywhere); one that is not loopback is the user's explicit choice (the link warns).
fn inspect_options(text: &str, brk: bool) -> Result<crate::protocol::InspectOptions, String> {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    let flag = if brk { "--inspect-brk" } else { "--inspect" };
    let bad = || {
        format!("invalid {flag}=`{}`: expected [HOST:]PORT, HOST an IP address or localhost (e.g. {flag}=9230 or {flag}=127.0.0.1:9229)", crate::app::clip(text, 60))
    };
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let (host, port) = match text.rsplit_once(':') {
        _ if text.is_empty() => (loopback, 9229),
        None => (loopback, text.parse::<u16>().map_err(|_| bad())?),
        Some((host, port)) => {
            let port = port.parse::<u16>().map_err(|_| bad())?;
            let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
            let ip = if host.eq_ignore_ascii_case("localhost") { loopback } else { host.parse().map_err(|_| bad())? };
            (ip, port)
        }
    };
    Ok(crate::protocol::InspectOptions { addr: SocketAddr::new(host, port), brk })
}

/// `--no-typecheck` / `--strict-types`, else `$IOCTL_TYPECHECK` (`off`, `report`, `strict`),
/// else report.
fn typecheck_mode(off: bool, strict: bool, env: Option<String>) -> Result<crate::protocol::TypeCheckMode, String> {
    use crate::protocol::TypeCheckMode;
    Ok(match (off, strict, env.as_deref().map(str::trim)) {
        (true, _, _) => TypeCheckMode::Off,
        (_, true, _) => TypeCheckMode::Strict,
        (_, _, None | Some("" | "report")) => TypeCheckMode::Report,
        (_, _, Some("off")) => TypeCheckMode::Off,
        (_, _, Some("strict")) => TypeCheckMode::Strict,
        (_, _, Some(other)) => {
            return Err(format!("IOCTL_TYPECHECK=`{}`: use off, report or strict", crate::app::clip(other, 40)))
        }
    })
}

/// `--cloud ACCOUNT`: an account name as VTEX spells them.
fn cloud_account(name: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_SCOPE_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(format!(
            "invalid --cloud account `{}`: use 1 to {MAX_SCOPE_NAME} letters, digits, `-` and `_`",
            crate::app::clip(name, 60)
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ioctl").chain(args.iter().copied()))
    }

    #[test]
    fn rate_must_be_finite_positive_and_in_range() {
        for bad in ["nan", "NaN", "inf", "-inf", "0", "-1", "1e-20", "0.0009", "100001", "1e12", "x"] {
            let e = parse(&["events", "send", "k", "--repeat", "5", "--rate", bad]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            let text = e.to_string();
            assert!(text.contains("--rate") && text.contains("0.001 to 100000"), "{bad}: {text}");
        }
        for good in ["0.001", "1", "2.5", "100000"] {
            assert!(parse(&["events", "send", "k", "--rate", good]).is_ok(), "{good}");
        }
    }

    #[test]
    fn repeat_is_at_least_one() {
        for bad in ["0", "-1", "x"] {
            let e = parse(&["events", "send", "k", &format!("--repeat={bad}")]).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains("--repeat"), "{e}");
        }
    }

    #[test]
    fn inspect_takes_a_port_or_an_ip_and_port_and_defaults_to_loopback_9229() {
        let inspect = |args: &[&str]| {
            let Command::Link(a) = parse(args).unwrap().command else { panic!() };
            a.options(ColorChoice::Never, Duration::from_secs(10))
                .map(|o| o.inspect.map(|i| (i.addr.to_string(), i.brk)))
        };
        let at = |a: &str, brk| Ok(Some((a.to_string(), brk)));
        assert_eq!(inspect(&["link"]), Ok(None));
        assert_eq!(inspect(&["link", "--inspect"]), at("127.0.0.1:9229", false));
        assert_eq!(inspect(&["link", "--inspect=9230"]), at("127.0.0.1:9230", false));
        assert_eq!(inspect(&["link", "--inspect=localhost:9231"]), at("127.0.0.1:9231", false));
        assert_eq!(inspect(&["link", "--inspect=[::1]:9232"]), at("[::1]:9232", false));
        assert_eq!(inspect(&["link", "--inspect=0.0.0.0:9229"]), at("0.0.0.0:9229", false));
        assert_eq!(inspect(&["link", "--inspect-brk"]), at("127.0.0.1:9229", true));
        for bad in ["--inspect=devbox.example:9229", "--inspect=x", "--inspect=70000", "--inspect-brk=:"] {
            let e = inspect(&["link", bad]).unwrap_err();
            assert!(e.contains("expected [HOST:]PORT"), "{bad}: {e}");
        }
        assert!(parse(&["link", "--inspect", "--inspect-brk"]).is_err(), "one or the other");
        // As Node's flag: the value is attached with `=`; a bare word is the app folder.
        let Command::Link(a) = parse(&["link", "--inspect", "9230"]).unwrap().command else { panic!() };
        assert_eq!(a.app_dir.as_deref(), Some(std::path::Path::new("9230")));
    }

    #[test]
    fn every_case_of_master_is_the_production_workspace() {
        for ws in ["master", "MASTER", "Master", "mAsTeR"] {
            let Command::Link(args) = parse(&["link", "-w", ws]).unwrap().command else { panic!() };
            assert_eq!(
                args.options(ColorChoice::Never, Duration::from_secs(10)).unwrap().scope.workspace,
                "master",
                "{ws}"
            );
        }
        let Command::Link(args) = parse(&["link", "-w", "masters"]).unwrap().command else { panic!() };
        assert_eq!(args.options(ColorChoice::Never, Duration::from_secs(10)).unwrap().scope.workspace, "masters");
    }

    #[test]
    fn the_type_check_mode_comes_from_the_flags_then_the_environment() {
        use crate::protocol::TypeCheckMode::*;
        assert_eq!(typecheck_mode(false, false, None), Ok(Report));
        assert_eq!(typecheck_mode(true, false, Some("strict".into())), Ok(Off));
        assert_eq!(typecheck_mode(false, true, Some("off".into())), Ok(Strict));
        assert_eq!(typecheck_mode(false, false, Some("off".into())), Ok(Off));
        assert!(typecheck_mode(false, false, Some("yes".into())).is_err());
        assert!(parse(&["link", "--no-typecheck", "--strict-types"]).is_err(), "the two flags conflict");
    }

    #[test]
    fn account_and_workspace_names_are_checked_up_front() {
        let scope = |a: &str, w: &str| ScopeArgs { account: a.into(), workspace: w.into() }.scope();
        assert!(scope("local", "dev").is_ok());
        assert!(scope(&"a".repeat(MAX_SCOPE_NAME), &"w".repeat(MAX_SCOPE_NAME)).is_ok());
        let e = scope(&"a".repeat(5000), "dev").unwrap_err();
        assert!(
            e.starts_with("invalid account `aaa") && e.ends_with("use 1 to 64 letters, digits, `-` and `_`"),
            "{e}"
        );
        assert!(e.len() < 200, "the name is clipped: {e}");
        assert!(scope("local", &"w".repeat(MAX_SCOPE_NAME + 1)).unwrap_err().starts_with("invalid workspace"));
        for bad in ["", "a/b", "..", "a b"] {
            assert!(scope(bad, "dev").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn app_ids_are_checked_by_the_storage_commands() {
        for args in [
            &["vbase", "get", "not an app", "b", "x"][..],
            &["vbase", "ls", "Acme.app", "b"],
            &["settings", "get", "vtex"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(e.to_string().contains("an app id is `vendor.name`"), "{args:?}: {e}");
        }
        assert!(parse(&["vbase", "get", "acme.store-app@1.0.0", "b", "x"]).is_ok());
    }

    #[test]
    fn record_and_cloud_writes_need_cloud_and_the_account_is_checked() {
        for args in [&["link", "--record", "rec"][..], &["link", "--cloud-writes"]] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(e.to_string().contains("--cloud <ACCOUNT>"), "{args:?}: {e}");
        }
        let Command::Link(args) = parse(&[
            "link",
            "--fixtures",
            "a",
            "--fixtures",
            "b",
            "--cloud",
            "acme",
            "--record",
            "r",
            "--cloud-writes",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        let b = args.options(ColorChoice::Never, Duration::from_secs(10)).unwrap().boundary;
        assert_eq!((b.fixtures.len(), b.cloud.as_deref(), b.cloud_writes), (2, Some("acme"), true));
        let Command::Link(args) = parse(&["link", "--cloud", "a/b"]).unwrap().command else { panic!() };
        assert!(args
            .options(ColorChoice::Never, Duration::from_secs(10))
            .unwrap_err()
            .starts_with("invalid --cloud account `a/b`"));
    }

    #[test]
    fn graphql_is_sent_as_the_admin_unless_as_says_otherwise() {
        let as_user = |args: &[&str]| match parse(args).unwrap().command {
            Command::Graphql { as_user, .. } => as_user,
            _ => panic!(),
        };
        assert_eq!(as_user(&["graphql", "{ a }"]), AsUser::Admin);
        assert_eq!(as_user(&["graphql", "{ a }", "--as", "shopper"]).as_str(), "shopper");
        assert_eq!(as_user(&["graphql", "{ a }", "--as", "anonymous"]).as_str(), "anonymous");
        let e = parse(&["graphql", "{ a }", "--as", "root"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("admin, shopper, anonymous"), "{e}");
        assert_eq!(parse(&["platform", "set"]).unwrap_err().exit_code(), 2, "set needs a pair");
    }

    #[test]
    fn init_help_lists_exactly_the_templates() {
        use clap::CommandFactory;
        let help = Cli::command().render_help().to_string();
        let line = help.lines().find(|l| l.trim_start().starts_with("init")).unwrap();
        assert!(line.contains(&crate::init::names().join(", ")), "{line}");
        assert_eq!(crate::init::names(), ["events-example", "service-course"]);
    }
}
