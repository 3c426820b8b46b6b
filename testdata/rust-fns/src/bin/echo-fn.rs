//! A Lambda function on the real `lambda_runtime` client that answers every
//! invoke with its own event, so rapid's tests can check the client's view of
//! the Runtime API end to end.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    println!("echo-fn handling {}", event.context.request_id);
    Ok(event.payload)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(echo)).await
}
