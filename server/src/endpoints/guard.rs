//! Checks every HTTP request passes before any route sees it: the `Host`
//! must be one this server answers to (DNS rebinding), and the client's
//! address, for the per-address connection limit, honouring
//! `X-Forwarded-For` only from configured proxies.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// The host part of a `Host` header (`name`, `1.2.3.4`, `[::1]`, each
/// with an optional `:port`), lower-cased.
fn host_name(host: &str) -> String {
    let host = host.trim();
    let name = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `host` (a `Host` header) matches one of `allowed`: an exact
/// name or address, `.example.com` (the domain and its subdomains), `*`.
///
/// ```
/// use confab_server::endpoints::guard::host_allowed;
/// let allowed = ["localhost".to_owned(), ".example.com".to_owned(), "[::1]".to_owned()];
/// assert!(host_allowed("localhost:8000", &allowed));
/// assert!(host_allowed("Chat.Example.com", &allowed));
/// assert!(host_allowed("example.com:443", &allowed));
/// assert!(host_allowed("[::1]:8000", &allowed));
/// assert!(!host_allowed("evil.com", &allowed));
/// assert!(!host_allowed("notexample.com", &allowed));
/// assert!(!host_allowed("localhost.evil.com", &allowed));
/// ```
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = host_name(host);
    !name.is_empty()
        && allowed.iter().any(|entry| {
            let entry = entry.trim().to_ascii_lowercase();
            entry == "*"
                || entry == name
                || entry
                    .strip_prefix('.')
                    .is_some_and(|domain| name == domain || name.ends_with(&entry))
        })
}

/// Middleware: 400 unless the request's `Host` is allowed.
pub(crate) async fn check_host(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    match host {
        Some(h) if host_allowed(h, &state.hosts) => next.run(req).await,
        _ => (
            StatusCode::BAD_REQUEST,
            "Host not allowed (see --allowed-hosts)\n",
        )
            .into_response(),
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy,
/// the last `X-Forwarded-For` address that is not itself a trusted proxy.
/// `None` when the server was not told the peer (a router served without
/// [`crate::serve::serve`]).
pub(crate) fn client_ip(
    peer: Option<&ConnectInfo<SocketAddr>>,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let mut ip = peer?.0.ip();
    if !trusted.contains(&ip) {
        return Some(ip);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    for hop in forwarded.into_iter().rev() {
        ip = hop;
        if !trusted.contains(&hop) {
            break;
        }
    }
    Some(ip)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.9".parse().unwrap();
        let peer = |ip: IpAddr| ConnectInfo(SocketAddr::new(ip, 5000));
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 1.2.3.4"),
        );
        let me: IpAddr = "1.2.3.4".parse().unwrap();
        // Not from a proxy: the header is the client's word, ignored.
        let direct: IpAddr = "5.5.5.5".parse().unwrap();
        assert_eq!(client_ip(Some(&peer(direct)), &h, &[proxy]), Some(direct));
        // From the proxy: the last hop it saw.
        assert_eq!(client_ip(Some(&peer(proxy)), &h, &[proxy]), Some(me));
        // The left part is the client's own claim and never used.
        assert_eq!(
            client_ip(Some(&peer(proxy)), &h, &[proxy, me]),
            Some("6.6.6.6".parse().unwrap())
        );
        // A proxy that sent no header: the proxy itself.
        assert_eq!(
            client_ip(Some(&peer(proxy)), &HeaderMap::new(), &[proxy]),
            Some(proxy)
        );
        assert_eq!(client_ip(None, &h, &[]), None);
    }
}
