//! The end-to-end suite: one test binary (as ripgrep does) that runs the real `ioctl` binary
//! with real Node.js against app folders in fresh temp dirs. The harness is shared with the
//! benchmarks (`benches/ioctl.rs` includes it by path).

mod harness;

mod failures;
mod limits;
mod link;
mod platform;
mod routes;
mod validation;
mod workspace;
