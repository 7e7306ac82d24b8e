//! Command-line interface: clap's raw flags, validated into the options the commands take.
//! Nothing outside this module sees clap types.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

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
    /// Seconds a command waits for the link session to answer [default: 10]
    #[arg(long, global = true, value_name = "SECONDS", value_parser = timeout_seconds)]
    pub timeout: Option<Duration>,
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
    /// Create an app from a template (available: service-course)
    Init {
        /// Template name
        template: String,
        /// Folder to create
        dir: PathBuf,
    },
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
        /// With --repeat: events per second [default: as fast as handlers take them]
        #[arg(long, value_parser = rate)]
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
    pub fn options(&self) -> Result<crate::session::Options, String> {
        Ok(crate::session::Options {
            scope: self.scope.scope()?,
            port: self.port,
            sender_interval: sender_interval(self.sender_interval)?,
            sample_sender: !self.no_sample_sender,
        })
    }
}

/// `--rate`: events per second within [`crate::protocol::RATE_RANGE`] (not NaN, ∞, 0 or less).
fn rate(s: &str) -> Result<f64, String> {
    let range = crate::protocol::RATE_RANGE;
    let bad = || format!("give {} to {} events per second", range.start(), range.end());
    let r: f64 = s.trim().parse().map_err(|_| bad())?;
    if r.is_finite() && range.contains(&r) {
        Ok(r)
    } else {
        Err(bad())
    }
}

/// `--timeout`: a positive number of seconds, at most a day.
fn timeout_seconds(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 && t <= 86_400.0 => Ok(Duration::from_secs_f64(t)),
        _ => Err("give a number of seconds above 0, at most 86400".to_string()),
    }
}

fn sender_interval(seconds: f64) -> Result<Duration, String> {
    if !(seconds.is_finite() && seconds >= 0.01) {
        return Err(format!("--sender-interval must be a number of seconds ≥ 0.01, not {seconds}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

impl ScopeArgs {
    pub fn scope(&self) -> Result<Scope, String> {
        for (what, v) in [("account", &self.account), ("workspace", &self.workspace)] {
            let ok = !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(format!("invalid {what} `{v}`: use letters, digits, `-` and `_`"));
            }
        }
        Ok(Scope { account: self.account.clone(), workspace: self.workspace.clone() })
    }
}

impl LinkArgs {
    pub fn options(&self, color: ColorChoice) -> Result<crate::client::link::Options, String> {
        Ok(crate::client::link::Options {
            app_dir: self.app_dir.clone().unwrap_or_else(|| PathBuf::from(".")),
            scope: self.scope.scope()?,
            port: self.port.unwrap_or(0),
            sender_interval: sender_interval(self.sender_interval.unwrap_or(10.0))?,
            sample_sender: !self.no_sample_sender,
            session_flags: self.port.is_some() || self.sender_interval.is_some() || self.no_sample_sender,
            watch: !self.no_watch,
            format: Format::detect(self.json, color),
        })
    }
}
