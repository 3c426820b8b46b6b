//! Where spans go: `--otlp-endpoint URL`, else the variables OpenTelemetry's
//! SDKs read, with the specification's precedence:
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the traces URL as it is), then
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL: traces go to `URL/v1/traces`).
//! The flag is a base URL too. Only OTLP/HTTP with protobuf over plain HTTP
//! is built: a variable asking for another protocol, `OTEL_SDK_DISABLED=true`
//! or `OTEL_TRACES_EXPORTER` without `otlp` turn the export off.

use std::net::{IpAddr, Ipv4Addr};

/// The signal's path under a base URL.
const TRACES_PATH: &str = "v1/traces";

/// A traces URL rapid can post to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    /// The URL's authority, for the `Host` header.
    authority: String,
    host: Host,
    port: u16,
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    Ip(IpAddr),
    /// Looked up when connecting.
    Name(String),
}

/// Why the endpoint cannot be used, and who named it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("{source_name}={value} is not an http:// URL with a host")]
    NotAUrl {
        source_name: &'static str,
        value: String,
    },
    #[error("{source_name}={value}: https is not supported (rapid has no TLS); export to a collector over http://")]
    Https {
        source_name: &'static str,
        value: String,
    },
    #[error("{source_name}={value}: rapid exports OTLP over http/protobuf only")]
    Protocol {
        source_name: &'static str,
        value: String,
    },
}

impl EndpointError {
    /// Whether the command line named it (rapid then refuses to start);
    /// a variable is also the function's, and only turns the export off.
    pub fn from_flag(&self) -> bool {
        let (EndpointError::NotAUrl { source_name, .. }
        | EndpointError::Https { source_name, .. }
        | EndpointError::Protocol { source_name, .. }) = self;
        *source_name == FLAG
    }
}

const FLAG: &str = "--otlp-endpoint";

/// The traces endpoint of `flag` (a base URL), else of the environment
/// (`var` reads a variable); `None` when nothing asks for an export.
pub fn endpoint(
    flag: Option<&str>,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Endpoint>, EndpointError> {
    if let Some(base) = flag {
        return Endpoint::parse(base, FLAG, Signal::Append).map(Some);
    }
    let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    if var("OTEL_TRACES_EXPORTER").is_some_and(|v| !v.split(',').any(|e| e.trim() == "otlp")) {
        return Ok(None);
    }
    let protocol = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .into_iter()
    .find_map(|name| var(name).map(|value| (name, value)));
    let (name, url, signal) = if let Some(url) = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url, Signal::AsIs)
    } else if let Some(base) = var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        ("OTEL_EXPORTER_OTLP_ENDPOINT", base, Signal::Append)
    } else {
        return Ok(None);
    };
    if let Some((name, value)) = protocol {
        if value.trim() != "http/protobuf" {
            return Err(EndpointError::Protocol {
                source_name: name,
                value,
            });
        }
    }
    Endpoint::parse(&url, name, signal).map(Some)
}

/// Whether a URL is the signal's own or a base to append its path to.
#[derive(Clone, Copy, PartialEq)]
enum Signal {
    AsIs,
    Append,
}

impl Endpoint {
    fn parse(
        given: &str,
        source_name: &'static str,
        signal: Signal,
    ) -> Result<Endpoint, EndpointError> {
        let not_a_url = || EndpointError::NotAUrl {
            source_name,
            value: given.to_owned(),
        };
        let uri: http::Uri = given.trim().parse().map_err(|_| not_a_url())?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(s) if s.eq_ignore_ascii_case("https") => {
                return Err(EndpointError::Https {
                    source_name,
                    value: given.to_owned(),
                })
            }
            _ => return Err(not_a_url()),
        }
        let authority = uri.authority().ok_or_else(not_a_url)?;
        let name = authority.host();
        if name.is_empty() || authority.as_str().contains('@') {
            return Err(not_a_url());
        }
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        let host = match bare.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            // Without a lookup: the static binary has no resolver library.
            Err(_) if bare.eq_ignore_ascii_case("localhost") => {
                Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
            }
            Err(_) => Host::Name(bare.to_owned()),
        };
        let path = match signal {
            // A base's path, with one `/` before the signal's.
            Signal::Append => {
                let base = uri.path().trim_end_matches('/');
                format!("{base}/{TRACES_PATH}")
            }
            Signal::AsIs => uri
                .path_and_query()
                .map(|p| p.as_str())
                .filter(|p| !p.is_empty())
                .unwrap_or("/")
                .to_owned(),
        };
        Ok(Endpoint {
            url: format!("http://{authority}{path}"),
            authority: authority.as_str().to_owned(),
            host,
            port: authority.port_u16().unwrap_or(80),
            path,
        })
    }

    /// The traces URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn authority(&self) -> &str {
        &self.authority
    }

    pub(crate) fn host(&self) -> &Host {
        &self.host
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(flag: Option<&str>, vars: &[(&str, &str)]) -> Result<Option<String>, EndpointError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        endpoint(flag, |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .map(|e| e.map(|e| e.url))
    }

    #[test]
    fn the_flag_then_the_traces_variable_then_the_base_variable() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        let traces = (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://127.0.0.1:9/custom/path",
        );
        let url = |s: &str| Ok(Some(s.to_owned()));
        assert_eq!(resolve(None, &[]), Ok(None));
        assert_eq!(
            resolve(Some("http://localhost:4318"), &[base, traces]),
            url("http://localhost:4318/v1/traces")
        );
        assert_eq!(
            resolve(Some("http://127.0.0.1:4318/base/"), &[]),
            url("http://127.0.0.1:4318/base/v1/traces")
        );
        assert_eq!(
            resolve(None, &[base, traces]),
            url("http://127.0.0.1:9/custom/path")
        );
        assert_eq!(
            resolve(None, &[base]),
            url("http://collector:4318/v1/traces")
        );
        assert_eq!(
            resolve(None, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "")]),
            Ok(None)
        );
        // Off, or another protocol: only without the flag.
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            assert_eq!(resolve(None, &[base, off]), Ok(None));
            assert!(resolve(Some("http://a:1"), &[base, off]).unwrap().is_some());
        }
        assert_eq!(
            resolve(None, &[base, ("OTEL_TRACES_EXPORTER", "console, otlp")]),
            url("http://collector:4318/v1/traces")
        );
        let grpc = resolve(None, &[base, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap_err();
        assert!(!grpc.from_flag());
        assert!(grpc.to_string().contains("http/protobuf"), "{grpc}");
        assert_eq!(
            resolve(
                None,
                &[
                    base,
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                    ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
                ]
            ),
            url("http://collector:4318/v1/traces")
        );
    }

    #[test]
    fn what_cannot_be_posted_to_is_refused_with_its_source() {
        for bad in [
            "collector:4318",
            "ftp://a/",
            "http://",
            "not a url",
            "http://u@a:1",
        ] {
            let err = resolve(Some(bad), &[]).unwrap_err();
            assert!(err.from_flag(), "{bad}");
            assert!(err.to_string().starts_with("--otlp-endpoint="), "{err}");
        }
        let err = resolve(Some("https://a:4318"), &[]).unwrap_err();
        assert!(err.to_string().contains("https is not supported"), "{err}");
        let err = resolve(None, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://a")]).unwrap_err();
        assert!(!err.from_flag());
    }

    #[test]
    fn hosts_are_read_without_a_lookup() {
        let parsed = |url: &str| endpoint(Some(url), |_| None).unwrap().unwrap();
        let e = parsed("http://localhost:4318");
        assert_eq!(e.host(), &Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(
            (e.port(), e.path(), e.authority()),
            (4318, "/v1/traces", "localhost:4318")
        );
        let e = parsed("http://[::1]/x");
        assert_eq!(e.host(), &Host::Ip("::1".parse().unwrap()));
        assert_eq!((e.port(), e.path()), (80, "/x/v1/traces"));
        assert_eq!(
            parsed("http://collector:1").host(),
            &Host::Name("collector".into())
        );
    }
}
