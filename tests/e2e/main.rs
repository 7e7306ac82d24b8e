//! The end-to-end suite: one test binary (as ripgrep does) that runs the real `ioctl` binary
//! with real Node.js against app folders in fresh temp dirs. The harness is shared with the
//! benchmarks (`benches/ioctl.rs` includes it by path).

mod harness;

mod boundary;
mod clients;
mod cluster;
mod code_cache;
mod dashboard;
mod dashboard_api;
mod debugger;
mod failures;
mod fidelity;
mod fixtures_cloud;
mod graphql;
mod hardening;
mod hardening_files;
mod hardening_input;
mod hardening_session;
mod hardening_web;
mod link;
mod platform;
mod real_apps;
mod real_platform;
mod routes;
mod shared_store;
mod streams;
mod tooling;
mod typecheck;
mod validation;
mod workspace;
