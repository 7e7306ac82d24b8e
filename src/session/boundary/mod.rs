//! The boundary every outbound call of a linked app crosses: answered by the first of an app
//! linked in the workspace, a local service, a fixture, the developer's own account
//! (`--cloud`), or else failed as VTEX would fail it, with a message that says how to answer it.
//! (Skeleton: the resolver, its answerers and the calls log are being built.)

pub mod call;
pub mod cloud;
pub mod fixtures;
pub mod record;
pub mod setup;

use std::future::Future;
use std::pin::Pin;

pub use crate::runtime::outbound::{Answer, Outbound, Source};

/// One way of answering outbound calls (a set of fixtures, the developer's account): `None`
/// when it does not answer this call, so the next one is asked.
pub trait Answerer: Send + Sync {
    fn answer<'a>(&'a self, call: &'a Outbound) -> Pin<Box<dyn Future<Output = Option<Answer>> + Send + 'a>>;
}
