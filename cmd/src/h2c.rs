//! HTTP/2 cleartext with prior knowledge on the front door: an
//! orchestrator's proxy (Knative's queue-proxy, Cloud Run's front end)
//! may open a connection with HTTP/2's preface instead of an HTTP/1.1
//! request. The first bytes of a connection tell which it is, read with
//! `peek` so the chosen protocol's server sees them all. The HTTP/1.1
//! `Upgrade: h2c` dance is not supported (the request is served as
//! HTTP/1.1).

use std::time::Duration;
use tokio::net::TcpStream;

/// The start of HTTP/2's connection preface (RFC 9113 §3.4). No HTTP/1.x
/// request starts with it: `PRI` is the method reserved for this.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";

/// What a connection's first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
    /// Closed, failed, or silent for `within`.
    Nothing,
}

/// Reads (without consuming) the first bytes of `stream`, waiting at most
/// `within` (the front door's header timeout) for enough to decide.
pub async fn sniff(stream: &TcpStream, within: Duration) -> Protocol {
    match tokio::time::timeout(within, decide(stream)).await {
        Ok(protocol) => protocol,
        Err(_) => Protocol::Nothing,
    }
}

async fn decide(stream: &TcpStream) -> Protocol {
    let mut buf = [0u8; PREFACE.len()];
    let mut pause = Duration::from_millis(1);
    loop {
        let n = match stream.peek(&mut buf).await {
            Ok(0) | Err(_) => return Protocol::Nothing,
            Ok(n) => n,
        };
        match classify(&buf[..n]) {
            Some(protocol) => return protocol,
            // ok: a preface cut inside its first segment is rare; peek
            // would return the same bytes at once, so wait a moment
            // (longer each time: a caller stalling here costs little)
            None => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
        }
    }
}

/// The protocol of a connection that began with `first`, when it is
/// decided.
pub fn classify(first: &[u8]) -> Option<Protocol> {
    let n = first.len().min(PREFACE.len());
    if first[..n] != PREFACE[..n] {
        Some(Protocol::Http1)
    } else if n == PREFACE.len() {
        Some(Protocol::Http2)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_is_told_from_a_request() {
        assert_eq!(
            classify(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            Some(Protocol::Http2)
        );
        assert_eq!(classify(b"POST /2015"), Some(Protocol::Http1));
        assert_eq!(classify(b"PUT"), Some(Protocol::Http1));
        assert_eq!(classify(b"G"), Some(Protocol::Http1));
        assert_eq!(classify(b"PRI * HT"), None);
        assert_eq!(classify(b"P"), None);
    }
}
