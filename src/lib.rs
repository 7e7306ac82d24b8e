//! ioctl: run VTEX IO Node service apps locally. The folders are the architecture:
//! `client` (the short commands that talk to a session), `protocol` (the contract between
//! them), `session` (the daemon of one account/workspace), `runtime` (the Node side), `app`
//! (the user's app model, a leaf), `build` (the transpiler). `run` dispatches a command line.

pub mod app;
pub mod build;
pub mod cli;
pub mod client;
pub mod diagnostic;
pub mod failure;
pub mod files;
mod hyper_error;
mod init;
pub mod layout;
mod lock;
mod private_fs;
pub mod protocol;
pub mod runtime;
pub mod session;
mod setup;
mod stable_hash;
pub mod store;
pub mod terminal;
pub mod version;

use std::process::ExitCode;

use cli::{
    CallsCommand, Cli, Command, DataCommand, EventsCommand, MasterdataCommand, PlatformCommand, SettingsCommand,
    VbaseCommand,
};

/// Exit code for bad usage (clap uses the same).
pub const USAGE: u8 = 2;

/// Runs one command. Errors are user-facing and printed once by main.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let usage = |msg: String| -> anyhow::Result<ExitCode> {
        eprintln!("error: {msg}");
        Ok(ExitCode::from(USAGE))
    };
    match cli.command {
        Command::Link(args) => match args.options(cli.color, cli.timeout) {
            Ok(opts) => client::link::run(opts).await,
            Err(m) => usage(m),
        },
        Command::Healthcheck(s) => match s.scope() {
            Ok(scope) => client::healthcheck::run(&scope, cli.timeout).await,
            Err(m) => usage(m),
        },
        Command::Events(EventsCommand::Tail { scope, sender, key, handler, failed, json }) => match scope.scope() {
            Ok(scope) => {
                let filters = client::tail::Filters { sender, key, handler, failed };
                client::tail::run(&scope, &filters, terminal::Format::detect(json, cli.color), cli.timeout).await
            }
            Err(m) => usage(m),
        },
        Command::Events(EventsCommand::Send { key, scope, sender, subject, data, data_file, repeat, rate, json }) => {
            match scope.scope() {
                Ok(scope) => {
                    use client::events;
                    let data = match (data, data_file) {
                        (Some(d), _) => events::Data::Inline(d),
                        (None, Some(f)) => events::Data::File(f),
                        (None, None) => events::Data::None,
                    };
                    let send = events::Send { key, sender, subject, data, repeat, rate, json };
                    events::send(&scope, &send, cli.color, cli.timeout).await
                }
                Err(m) => usage(m),
            }
        }
        Command::Events(EventsCommand::Failed { scope, json, limit, skip, all }) => match scope.scope() {
            Ok(scope) => {
                let limit = if all { None } else { Some(limit.unwrap_or(client::events::FAILED_PAGE)) };
                client::events::failed(&scope, json, crate::protocol::FailedPage { limit, skip }, cli.timeout).await
            }
            Err(m) => usage(m),
        },
        Command::Events(EventsCommand::Replay { event_id, all_failed, scope }) => match scope.scope() {
            Ok(scope) => client::events::replay(&scope, event_id.as_deref(), all_failed, cli.timeout).await,
            Err(m) => usage(m),
        },
        Command::Graphql { query, scope, variables, operation, app, as_user, json } => match scope.scope() {
            Ok(scope) => {
                let q = client::graphql::Query { query, variables, operation, app, as_user: as_user.as_str(), json };
                client::graphql::run(&scope, &q, cli.color, cli.timeout).await
            }
            Err(m) => usage(m),
        },
        Command::Doctor => Ok(client::doctor::run().await),
        Command::Completions { shell } => {
            cli::completions(shell, &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Packages { into } => {
            let (term, printer) = terminal::Terminal::start(terminal::Format::detect(false, cli.color));
            let installed = runtime::install_all_into(&into, &term).await;
            drop(term);
            let _ = printer.await;
            for dir in installed? {
                println!("{}", dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => {
            for page in cli::manual(dir.as_deref(), &mut std::io::stdout())? {
                println!("wrote {}", page.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::SessionServe(args) => match args.checked() {
            Ok((scope, sender_interval)) => {
                let sample_sender = !args.no_sample_sender;
                session::serve(session::Options { scope, port: args.port, sender_interval, sample_sender }).await
            }
            Err(m) => usage(m),
        },
        Command::Dashboard { scope, no_open } => match scope.scope() {
            Ok(scope) => client::dashboard::run(&scope, !no_open, cli.timeout).await,
            Err(m) => usage(m),
        },
        Command::Status { scope, json } => match scope.scope() {
            Ok(scope) => client::events::status(&scope, json, cli.timeout).await,
            Err(m) => usage(m),
        },
        Command::Events(EventsCommand::Trigger { name, scope, set, list, json }) => match (scope.scope(), name) {
            (Err(m), _) => usage(m),
            (Ok(_), _) if list => client::trigger::list(json),
            (Ok(scope), Some(name)) => client::trigger::fire(&scope, &name, &set, json, cli.timeout).await,
            (Ok(_), None) => usage("name the event to trigger (see --list)".into()),
        },
        Command::Settings(c) => storage::settings(c),
        Command::Vbase(c) => storage::vbase(c),
        Command::Masterdata(c) => storage::masterdata(c),
        Command::Data(c) => storage::data(c, cli.timeout).await,
        Command::Platform(PlatformCommand::Show { scope, json }) => match scope.scope() {
            Ok(scope) => client::platform::show(&scope, json),
            Err(m) => usage(m),
        },
        Command::Platform(PlatformCommand::Set { pairs, scope }) => match scope.scope() {
            Ok(scope) => client::platform::set(&scope, &pairs, cli.timeout).await,
            Err(m) => usage(m),
        },
        Command::Calls(CallsCommand::Tail { scope, json }) => match scope.scope() {
            Ok(scope) => client::calls::tail(&scope, terminal::Format::detect(json, cli.color), cli.timeout).await,
            Err(m) => usage(m),
        },
        Command::Init { template, dir } => init::run(&template, &dir),
        Command::Setup { app_dir } => setup::run(app_dir.as_deref().unwrap_or(std::path::Path::new("."))).await,
    }
}

/// The storage commands: they open the workspace's storage directly (no session needed).
mod storage {
    use super::*;

    fn scoped(
        scope: &cli::ScopeArgs,
        run: impl FnOnce(&protocol::Scope) -> anyhow::Result<ExitCode>,
    ) -> anyhow::Result<ExitCode> {
        match scope.scope() {
            Ok(s) => run(&s),
            Err(m) => {
                eprintln!("error: {m}");
                Ok(ExitCode::from(USAGE))
            }
        }
    }

    pub fn settings(c: SettingsCommand) -> anyhow::Result<ExitCode> {
        match c {
            SettingsCommand::Get { app, scope, json } => {
                scoped(&scope, |s| client::settings::get(s, app.as_ref(), json))
            }
            SettingsCommand::Set { args, file, scope } => {
                scoped(&scope, |s| client::settings::set(s, &args, file.as_deref()))
            }
        }
    }

    pub fn vbase(c: VbaseCommand) -> anyhow::Result<ExitCode> {
        use client::vbase;
        match c {
            VbaseCommand::Ls { app, bucket, prefix, scope, json } => {
                scoped(&scope, |s| vbase::ls(s, &app, &bucket, prefix.as_deref(), json))
            }
            VbaseCommand::Get { app, bucket, path, scope } => scoped(&scope, |s| vbase::get(s, &app, &bucket, &path)),
            VbaseCommand::Put { app, bucket, path, data, file, ttl, scope } => {
                scoped(&scope, |s| vbase::put(s, (&app, &bucket, &path), data.as_deref(), file.as_deref(), ttl))
            }
            VbaseCommand::Rm { app, bucket, path, scope } => scoped(&scope, |s| vbase::rm(s, &app, &bucket, &path)),
        }
    }

    pub fn masterdata(c: MasterdataCommand) -> anyhow::Result<ExitCode> {
        use client::masterdata;
        match c {
            MasterdataCommand::Search { entity, where_, fields, sort, schema, page, page_size, scope, json } => {
                let search = masterdata::Search { entity, where_, fields, sort, schema, page, page_size, json };
                scoped(&scope, |s| masterdata::search(s, &search))
            }
            MasterdataCommand::Import { entity, file, scope } => {
                scoped(&scope, |s| masterdata::import(s, &entity, &file))
            }
            MasterdataCommand::Export { entity, scope } => scoped(&scope, |s| masterdata::export(s, &entity)),
        }
    }

    /// A data import or reset changes the platform settings too: a running session reads them again.
    pub async fn data(c: DataCommand, timeout: std::time::Duration) -> anyhow::Result<ExitCode> {
        let (done, scope) = match c {
            DataCommand::Export { dir, scope } => return scoped(&scope, |s| client::data::export(s, &dir)),
            DataCommand::Import { dir, scope } => (scoped(&scope, |s| client::data::import(s, &dir)), scope),
            DataCommand::Reset { yes, scope } => (scoped(&scope, |s| client::data::reset(s, yes)), scope),
        };
        if matches!(done, Ok(ref code) if *code == ExitCode::SUCCESS) {
            if let Ok(scope) = scope.scope() {
                client::platform::tell_session(&scope, timeout).await;
            }
        }
        done
    }
}
