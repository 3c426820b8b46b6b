//! A Lambda function on the real `lambda_runtime` client that reads a field
//! of its event, as ordinary handlers do: `{"name": "x"}` is answered with
//! `{"greeting": "hello x"}`, an event without a string `name` fails.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn greet(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let name = event
        .payload
        .get("name")
        .and_then(Value::as_str)
        .ok_or("the event has no string field \"name\"")?;
    Ok(json!({ "greeting": format!("hello {name}") }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(greet)).await
}
