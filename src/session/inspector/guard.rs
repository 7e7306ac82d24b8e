//! Who may talk to the inspector proxy, as Node's own inspector decides: a `Host` header
//! that is a loopback IP or `localhost` (a DNS name could be rebound to 127.0.0.1 by a web
//! page), and no WebSocket from a web page of another origin (`Origin: http(s)://` not on
//! loopback). The debugger runs any code in the app: these keep a browsed page out of it.

use std::net::IpAddr;

/// Whether a request's `Host` header may reach the proxy bound at `bound`: `localhost`, a
/// loopback IP, or the IP the user explicitly bound (`--inspect=192.168.1.5:9229`). No header
/// is a local client's (HTTP/1.0 tools); browsers always send one.
pub fn host_allowed(host: Option<&str>, bound: IpAddr) -> bool {
    let Some(host) = host else { return true };
    let name = strip_port(host);
    if name.eq_ignore_ascii_case("localhost") || name.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    match name.parse::<IpAddr>() {
        Ok(ip) => {
            ip.is_loopback()
                || (ip == bound && !bound.is_unspecified())
                || (bound.is_unspecified() && !ip.is_unspecified())
        }
        Err(_) => false,
    }
}

/// Whether a WebSocket upgrade's `Origin` may open a debugging session: none (VS Code, Node
/// clients), DevTools' own (`devtools://`), or a page served from loopback.
pub fn origin_allowed(origin: Option<&str>) -> bool {
    let Some(origin) = origin else { return true };
    let rest = match origin.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        _ => return origin != "null",
    };
    let name = strip_port(rest.split('/').next().unwrap_or_default());
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `host[:port]`, `[v6][:port]` → the host.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn only_loopback_hosts_reach_a_loopback_proxy() {
        for ok in ["127.0.0.1:9229", "localhost:9229", "LOCALHOST", "[::1]:9229", "127.0.0.1", "app.localhost:9229"] {
            assert!(host_allowed(Some(ok), LOOPBACK), "{ok}");
        }
        assert!(host_allowed(None, LOOPBACK));
        // DNS rebinding: a page's name pointed at 127.0.0.1.
        for refused in
            ["evil.example:9229", "evil.example", "192.168.1.5:9229", "localhost.evil.example", "[::2]:9229", ""]
        {
            assert!(!host_allowed(Some(refused), LOOPBACK), "{refused}");
        }
    }

    #[test]
    fn an_explicit_address_is_reachable_by_its_ip_not_by_names() {
        let lan: IpAddr = "192.168.1.5".parse().unwrap();
        assert!(host_allowed(Some("192.168.1.5:9229"), lan));
        assert!(!host_allowed(Some("192.168.1.6:9229"), lan));
        assert!(!host_allowed(Some("devbox.example:9229"), lan));
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        assert!(host_allowed(Some("10.0.0.7:9229"), any));
        assert!(!host_allowed(Some("devbox.example:9229"), any));
    }

    #[test]
    fn web_pages_of_other_origins_cannot_open_a_session() {
        for ok in [
            None,
            Some("devtools://devtools"),
            Some("http://127.0.0.1:3000"),
            Some("http://localhost:9229"),
            Some("https://[::1]"),
        ] {
            assert!(origin_allowed(ok), "{ok:?}");
        }
        for refused in ["http://evil.example", "https://evil.example:443", "http://192.168.1.5:8080", "null"] {
            assert!(!origin_allowed(Some(refused)), "{refused}");
        }
    }
}
