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
mod init;
pub mod protocol;
mod random;
pub mod runtime;
pub mod session;
pub mod store;
pub mod terminal;

use std::process::ExitCode;

use cli::{Cli, Command, EventsCommand};

/// Exit code for bad usage (clap uses the same).
pub const USAGE: u8 = 2;

/// Runs one command. Errors are user-facing and printed once by main.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let usage = |msg: String| -> anyhow::Result<ExitCode> {
        eprintln!("error: {msg}");
        Ok(ExitCode::from(USAGE))
    };
    client::set_timeout(cli.timeout);
    match cli.command {
        Command::Link(args) => match args.options(cli.color) {
            Ok(opts) => client::link::run(opts).await,
            Err(m) => usage(m),
        },
        Command::Healthcheck(s) => match s.scope() {
            Ok(scope) => client::healthcheck::run(&scope).await,
            Err(m) => usage(m),
        },
        Command::Events(EventsCommand::Tail { scope, sender, key, handler, failed, json }) => match scope.scope() {
            Ok(scope) => {
                let filters = client::tail::Filters { sender, key, handler, failed };
                client::tail::run(&scope, &filters, terminal::Format::detect(json, cli.color)).await
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
                    events::send(&scope, &events::Send { key, sender, subject, data, repeat, rate, json }, cli.color)
                        .await
                }
                Err(m) => usage(m),
            }
        }
        Command::Events(EventsCommand::Failed { scope, json }) => match scope.scope() {
            Ok(scope) => client::events::failed(&scope, json).await,
            Err(m) => usage(m),
        },
        Command::Events(EventsCommand::Replay { event_id, all_failed, scope }) => match scope.scope() {
            Ok(scope) => client::events::replay(&scope, event_id.as_deref(), all_failed).await,
            Err(m) => usage(m),
        },
        Command::SessionServe(args) => match args.options() {
            Ok(opts) => session::serve(opts).await,
            Err(m) => usage(m),
        },
        Command::Status { scope, json } => match scope.scope() {
            Ok(scope) => client::events::status(&scope, json).await,
            Err(m) => usage(m),
        },
        Command::Init { template, dir } => init::run(&template, &dir),
    }
}
