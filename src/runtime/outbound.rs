//! An outbound call of an app, as the host sends it (a `platform` message whose call is
//! `{"service": "http", ...}`), and the answer ioctl gives it: the wire of the boundary every
//! call an app makes to VTEX crosses (session/boundary/). Snake_case like every host message;
//! bodies travel base64 so that binary answers survive the JSON line.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One HTTP call as the app made it: through a stand-in client (JanusClient, AppClient,
/// AppGraphQLClient, tenant, segment...) or the app's own axios/fetch/http to a VTEX host.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub struct Outbound {
    /// What made it: the client method (`ctx.clients.tenant.info`, `MyClient.getThing`) or the
    /// app's own library (`axios`, `fetch`, `http`).
    pub via: String,
    /// Upper case: `GET`, `POST`...
    pub method: String,
    /// Absolute, with VTEX's host as the app addressed it
    /// (`https://api.vtex.com/{account}/dataentities/CL/search?_where=...`); a call to a VTEX
    /// IO app is `http://app.io.vtex.com/{vendor}.{name}/v{major}/{account}/{workspace}/{path}`.
    pub url: String,
    /// Header names in lower case.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body, if any.
    #[serde(default, with = "base64_body")]
    pub body: Option<Vec<u8>>,
    /// The VTEX IO app addressed by an AppClient or AppGraphQLClient, as the app named it
    /// (`vtex.search-graphql@0.x`).
    #[serde(default)]
    pub app: Option<String>,
}

/// Who answered an outbound call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// An app linked in the workspace.
    Linked,
    /// One of ioctl's local services (settings, VBase, Master Data, VTEX ID, tenant, segment, session).
    Local,
    /// A fixture file (`ioctl link --fixtures DIR`).
    Fixture,
    /// The developer's own account (`ioctl link --cloud ACCOUNT`).
    Cloud,
    /// Nothing answers it: the host fails the call as an HTTP failure, with `message`.
    Missing,
}

/// The answer the host gives the app's call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(Deserialize))]
pub struct Answer {
    pub status: u16,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    #[serde(with = "base64_body")]
    pub body: Option<Vec<u8>>,
    pub source: Source,
    /// For [`Source::Missing`]: the call, that it goes to VTEX's cloud, and the ways to answer
    /// it (a fixture's path and skeleton, or `--cloud`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

mod base64_body {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(body: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match body {
            Some(bytes) => s.serialize_some(&base64::engine::general_purpose::STANDARD.encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| base64::engine::general_purpose::STANDARD.decode(t).map_err(serde::de::Error::custom)).transpose()
    }
}
