//! Listening addresses in the forms aws-lambda-rie takes them (`HOST:PORT`),
//! read without the C library's resolver wherever the answer is known: a
//! static rapid in an image without `/etc/hosts` or NSS modules (`FROM
//! scratch`) cannot ask getaddrinfo what `localhost` is.

use std::net::{Ipv4Addr, SocketAddr};

/// The socket address `address` names when it needs no lookup:
/// `IP:PORT`, `[IPv6]:PORT`, `localhost:PORT` (127.0.0.1, the address Go's
/// listener, and so aws-lambda-rie, picks for it) and `:PORT` (every
/// interface, as in Go). `None` for a host name, which the system resolver
/// must turn into addresses.
pub fn without_lookup(address: &str) -> Option<SocketAddr> {
    if let Ok(addr) = address.parse::<SocketAddr>() {
        return Some(addr);
    }
    let (host, port) = address.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    if host.is_empty() {
        Some(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
    } else if host.eq_ignore_ascii_case("localhost") {
        Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Option<String> {
        without_lookup(text).map(|a| a.to_string())
    }

    #[test]
    fn documented_forms_need_no_lookup() {
        assert_eq!(addr("0.0.0.0:8080").as_deref(), Some("0.0.0.0:8080"));
        assert_eq!(addr("127.0.0.1:0").as_deref(), Some("127.0.0.1:0"));
        assert_eq!(addr("[::1]:9001").as_deref(), Some("[::1]:9001"));
        assert_eq!(addr("localhost:9001").as_deref(), Some("127.0.0.1:9001"));
        assert_eq!(addr("LocalHost:0").as_deref(), Some("127.0.0.1:0"));
        assert_eq!(addr(":8080").as_deref(), Some("0.0.0.0:8080"));
    }

    #[test]
    fn other_hosts_and_bad_ports_go_to_the_resolver() {
        assert_eq!(addr("example.internal:8080"), None);
        assert_eq!(addr("localhost:http"), None);
        assert_eq!(addr("localhost"), None);
        assert_eq!(addr("localhost:70000"), None);
    }
}
