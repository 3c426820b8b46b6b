//! A web handler on the real `lambda_http` crate (buffered), as users
//! write one for a function URL or an HTTP API: rapid's web tests call it
//! through `/lambda-url/` and `--http-address` with a real HTTP client.
//!
//! - `GET /items/{id}?q=..`: `{"item_id", "q"}` from the path and query;
//! - `POST /echo-json`: `{"got": <the JSON body>}`;
//! - `POST /echo-bytes`: the body back, byte for byte, as octet-stream;
//! - `GET /login`: a 302 to `/whoami` setting two cookies;
//! - `GET /whoami`: `{"cookie": <the cookie header it got>}`;
//! - `GET /teapot`: a 418;
//! - `GET /boom`: the handler returns an error (a function error).

use lambda_http::http::{header, StatusCode};
use lambda_http::{run, service_fn, Body, Error, Request, RequestExt, Response};
use serde_json::{json, Value};

async fn handle(request: Request) -> Result<Response<Body>, Error> {
    let path = request.uri().path().to_owned();
    let json_answer = |status: StatusCode, value: Value| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::Text(value.to_string()))
    };
    let answer = match (request.method().as_str(), path.as_str()) {
        ("GET", item) if item.starts_with("/items/") => {
            let q = request
                .query_string_parameters_ref()
                .and_then(|params| params.first("q"))
                .map(str::to_owned);
            json_answer(
                StatusCode::OK,
                json!({"item_id": &item["/items/".len()..], "q": q}),
            )
        }
        ("POST", "/echo-json") => {
            let got: Value = serde_json::from_slice(request.body().as_ref())?;
            json_answer(StatusCode::OK, json!({ "got": got }))
        }
        ("POST", "/echo-bytes") => Response::builder()
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::Binary(request.body().to_vec())),
        ("GET", "/login") => Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, "/whoami")
            .header(header::SET_COOKIE, "session=abc123; Path=/")
            .header(header::SET_COOKIE, "theme=dark; Path=/")
            .body(Body::Empty),
        ("GET", "/whoami") => {
            let cookie = request
                .headers()
                .get(header::COOKIE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            json_answer(StatusCode::OK, json!({ "cookie": cookie }))
        }
        ("GET", "/teapot") => json_answer(
            StatusCode::IM_A_TEAPOT,
            json!({"detail": "short and stout"}),
        ),
        ("GET", "/boom") => return Err("the handler failed".into()),
        _ => json_answer(StatusCode::NOT_FOUND, json!({"detail": "Not Found"})),
    };
    Ok(answer?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(handle)).await
}
