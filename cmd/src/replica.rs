//! The container contract of Knative Serving and Cloud Run (spec §15):
//! `PORT` says where the front door listens, `K_SERVICE` / `K_REVISION`
//! name the function, and on that port whatever is not the Invoke API is
//! web traffic for the function. Pure functions of the environment and
//! the path; `main.rs` applies them.

/// The front door's address when neither the flag nor its variable says
/// one, and `PORT` is not set (aws-lambda-rie's).
pub const DEFAULT_ADDRESS: &str = "0.0.0.0:8080";

/// Where the front door listens, and whether it serves the replica
/// contract (the rest of its URL space as web traffic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontDoorAddress {
    pub address: String,
    /// `PORT` chose the address: requests that are not the Invoke API are
    /// web traffic (`web::handle` at the root).
    pub replica: bool,
}

/// `--runtime-interface-emulator-address` (or its variable) when given;
/// else `0.0.0.0:$PORT` when `PORT` is set; else [`DEFAULT_ADDRESS`].
pub fn front_door_address(
    given: Option<&str>,
    port: Option<&str>,
) -> Result<FrontDoorAddress, String> {
    if let Some(address) = given {
        return Ok(FrontDoorAddress {
            address: address.to_owned(),
            replica: false,
        });
    }
    let Some(port) = port else {
        return Ok(FrontDoorAddress {
            address: DEFAULT_ADDRESS.to_owned(),
            replica: false,
        });
    };
    match port.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(FrontDoorAddress {
            address: format!("0.0.0.0:{port}"),
            replica: true,
        }),
        _ => Err(format!(
            "PORT must be a port number from 1 to 65535 (the orchestrator's container contract), got {port:?}"
        )),
    }
}

/// The process environment with the Knative names as the function's
/// defaults: `K_SERVICE` for `AWS_LAMBDA_FUNCTION_NAME` and `K_REVISION`
/// for `AWS_LAMBDA_FUNCTION_VERSION`, when those are not set.
pub fn with_knative_names(
    vars: impl Iterator<Item = (String, String)>,
) -> impl Iterator<Item = (String, String)> {
    let vars: Vec<(String, String)> = vars.collect();
    let has = |name: &str| vars.iter().any(|(key, _)| key == name);
    let mut defaults = Vec::new();
    for (lambda, knative) in [
        ("AWS_LAMBDA_FUNCTION_NAME", "K_SERVICE"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "K_REVISION"),
    ] {
        if has(lambda) {
            continue;
        }
        if let Some((_, value)) = vars
            .iter()
            .find(|(key, value)| key == knative && !value.is_empty())
        {
            defaults.push((lambda.to_owned(), value.clone()));
        }
    }
    vars.into_iter().chain(defaults)
}

/// A path of the Invoke API (Invoke, InvokeWithResponseStream): on the
/// replica's port these go to the front door, whatever the method, so a
/// wrong method gets the Invoke API's error rather than becoming an event.
pub fn is_invoke_api(path: &str) -> bool {
    let named = |prefix: &str, suffix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .is_some_and(|name| !name.is_empty() && !name.contains('/'))
    };
    named("/2015-03-31/functions/", "/invocations")
        || named("/2021-11-15/functions/", "/response-streaming-invocations")
}

/// On the replica's port: a request for the function's web traffic,
/// being neither the Invoke API nor (when `control` is reachable for this
/// caller) the control API.
pub fn is_web_traffic(path: &str, control: bool) -> bool {
    let control_api = control && path.starts_with(crate::control::PREFIX);
    !(is_invoke_api(path) || control_api)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_gives_the_address_unless_one_is_given() {
        let at = |given, port| front_door_address(given, port);
        assert_eq!(
            at(None, None).unwrap(),
            FrontDoorAddress {
                address: "0.0.0.0:8080".into(),
                replica: false
            }
        );
        assert_eq!(
            at(None, Some("9090")).unwrap(),
            FrontDoorAddress {
                address: "0.0.0.0:9090".into(),
                replica: true
            }
        );
        assert_eq!(
            at(Some("127.0.0.1:7000"), Some("9090")).unwrap(),
            FrontDoorAddress {
                address: "127.0.0.1:7000".into(),
                replica: false
            }
        );
        for bad in ["", "0", "65536", "http", "-1"] {
            let err = at(None, Some(bad)).unwrap_err();
            assert!(err.starts_with("PORT must be a port number"), "{err}");
        }
    }

    #[test]
    fn knative_names_are_defaults_only() {
        let env = |pairs: &[(&str, &str)]| {
            with_knative_names(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
                .filter(|(k, _)| k.starts_with("AWS_"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            env(&[("K_SERVICE", "orders"), ("K_REVISION", "orders-00002")]),
            [
                ("AWS_LAMBDA_FUNCTION_NAME".to_string(), "orders".to_string()),
                (
                    "AWS_LAMBDA_FUNCTION_VERSION".to_string(),
                    "orders-00002".to_string()
                )
            ]
        );
        assert_eq!(
            env(&[
                ("K_SERVICE", "orders"),
                ("AWS_LAMBDA_FUNCTION_NAME", "mine")
            ]),
            [("AWS_LAMBDA_FUNCTION_NAME".to_string(), "mine".to_string())]
        );
        assert!(env(&[("K_SERVICE", "")]).is_empty());
    }

    #[test]
    fn the_invoke_api_is_its_two_paths() {
        assert!(is_invoke_api("/2015-03-31/functions/function/invocations"));
        assert!(is_invoke_api(
            "/2021-11-15/functions/f/response-streaming-invocations"
        ));
        assert!(!is_invoke_api("/2015-03-31/functions//invocations"));
        assert!(!is_invoke_api("/2015-03-31/functions/a/b/invocations"));
        assert!(!is_invoke_api("/"));
        assert!(!is_invoke_api("/orders/42"));
        assert!(is_web_traffic("/test/ping", false));
        assert!(!is_web_traffic("/test/ping", true));
        assert!(!is_web_traffic(
            "/2015-03-31/functions/f/invocations",
            false
        ));
    }
}
