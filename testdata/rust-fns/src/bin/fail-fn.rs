//! A Lambda function on the real `lambda_runtime` client that fails every
//! invoke with a typed `Diagnostic`, so rapid's tests can check how a client's
//! `/error` post reaches the invoker.

use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::Value;

async fn fail(_event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    Err(Diagnostic {
        error_type: "Function.ValueError".into(),
        error_message: "boom from fail-fn".into(),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(fail)).await
}
