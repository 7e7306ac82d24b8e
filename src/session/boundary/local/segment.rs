//! The segment service (`ctx.clients.segment`, @vtex/api 6.51.3's `Segment` JanusClient):
//! `GET /api/segments` (a new segment) and `GET /api/segments/{token}` (`getSegment` with
//! `ctx.vtex.segmentToken`, `getSegmentByToken`), with `session_path` and `workspace` query
//! parameters, on portal.vtexcommercestable.com.br (`an={account}`) or the account's hosts.
//! The segment is the workspace's platform settings (trade policy, currency, country, locale);
//! a token is, as VTEX's `vtex_segment` cookie is, the segment's JSON in base64, so a token an
//! app made itself answers its own fields over the workspace's. The answer sets the
//! `vtex_segment` cookie `getOrCreateSegment` reads.

use base64::Engine as _;
use serde_json::{json, Value};

use super::{on_account_api, with_headers, Call};
use crate::runtime::outbound::Answer;
use crate::store::platform::Settings;

/// The segment of the workspace's settings, with the fields VTEX's segment service answers
/// (`channel` is text there, as in the `vtex_segment` cookie).
pub fn data(s: &Settings) -> Value {
    json!({
        "campaigns": null,
        "channel": s.trade_policy.to_string(),
        "priceTables": null,
        "regionId": null,
        "utm_campaign": null,
        "utm_source": null,
        "utmi_campaign": null,
        "currencyCode": s.currency,
        "currencySymbol": s.currency_symbol,
        "countryCode": s.country,
        "cultureInfo": s.locale,
        "admin_cultureInfo": s.locale,
        "channelPrivacy": "public",
    })
}

/// A segment's token: its JSON, base64 (what VTEX's `vtex_segment` cookie holds).
pub fn token(data: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(data.to_string())
}

/// The fields a token carries, when it is a segment's base64 JSON.
fn decode(token: &str) -> Option<serde_json::Map<String, Value>> {
    let engines = [base64::engine::general_purpose::STANDARD, base64::engine::general_purpose::URL_SAFE];
    let bytes = engines.iter().find_map(|e| e.decode(token.trim()).ok())?;
    serde_json::from_slice::<Value>(&bytes).ok()?.as_object().cloned()
}

pub fn answer(call: &Call) -> Option<Answer> {
    if call.method != "GET" || !on_account_api(call.target) {
        return None;
    }
    let rest = call.target.path.strip_prefix("/api/segments")?;
    let token = match rest.trim_matches('/') {
        "" => None,
        t if !t.contains('/') => Some(t),
        _ => return None,
    };
    let mut segment = data(&call.identity.users().settings);
    if let (Some(fields), Some(obj)) = (token.and_then(decode), segment.as_object_mut()) {
        obj.extend(fields);
    }
    let cookie = format!("vtex_segment={}; path=/", self::token(&segment));
    Some(with_headers(200, Some(segment.to_string().into_bytes()), &[("set-cookie", cookie)]))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ask, call, local};
    use super::*;

    const BASE: &str = "http://portal.vtexcommercestable.com.br/api/segments";

    #[tokio::test]
    async fn the_segment_is_the_workspaces_and_a_token_carries_its_own_fields() {
        let home = tempfile::tempdir().unwrap();
        let l = local(home.path());
        let (status, v, a) =
            ask(&l, call("GET", &format!("{BASE}?session_path=&workspace=dev&an=acme"), &[], None)).await;
        assert_eq!(status, 200);
        assert_eq!((v["channel"].as_str(), v["currencyCode"].as_str()), (Some("1"), Some("USD")));
        assert_eq!((v["countryCode"].as_str(), v["cultureInfo"].as_str()), (Some("USA"), Some("en-US")));
        let cookie = &a.headers["set-cookie"];
        let made = cookie.strip_prefix("vtex_segment=").unwrap().split(';').next().unwrap().to_string();
        assert_eq!(decode(&made).map(Value::Object), Some(v.clone()), "the cookie is the segment");

        let own = token(&json!({"currencyCode": "BRL", "channel": "2"}));
        let (_, v, _) = ask(&l, call("GET", &format!("{BASE}/{own}?an=acme"), &[], None)).await;
        assert_eq!(
            (v["currencyCode"].as_str(), v["channel"].as_str(), v["countryCode"].as_str()),
            (Some("BRL"), Some("2"), Some("USA"))
        );
        let (_, v, _) = ask(&l, call("GET", &format!("{BASE}/not-a-segment?an=acme"), &[], None)).await;
        assert_eq!(v["currencyCode"], "USD", "a token that is no segment answers the workspace's");
    }
}
