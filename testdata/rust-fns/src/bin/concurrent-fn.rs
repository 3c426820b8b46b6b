//! A Lambda function on the real `lambda_runtime` client in its Lambda
//! Managed Instances mode (`run_concurrent`: one long poll per
//! `AWS_LAMBDA_MAX_CONCURRENCY` slot). An event `{"meet": N}` waits until N
//! such invokes are inside the handler at once, so an invoke only comes back
//! when rapid really ran N of them side by side; every invoke answers with
//! its event, its request id and how many invokes were inside the handler
//! when it entered.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Default)]
struct Meeting {
    /// Invokes inside the handler now.
    inside: AtomicUsize,
    /// `meet` invokes that ever arrived: the k-th (from 0) of a group of N
    /// leaves once N * (k / N + 1) have.
    met: AtomicUsize,
    arrived: Notify,
}

async fn handle(meeting: Arc<Meeting>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let inside = meeting.inside.fetch_add(1, Ordering::SeqCst) + 1;
    println!(
        "concurrent-fn handling {} ({inside} inside)",
        event.context.request_id
    );
    if let Some(n) = event.payload.get("meet").and_then(Value::as_u64) {
        let n = n.max(1) as usize;
        let k = meeting.met.fetch_add(1, Ordering::SeqCst);
        meeting.arrived.notify_waiters();
        let group_met = n * (k / n + 1);
        loop {
            let arrived = meeting.arrived.notified();
            if meeting.met.load(Ordering::SeqCst) >= group_met {
                break;
            }
            arrived.await;
        }
    }
    let answer = json!({
        "event": event.payload,
        "request_id": event.context.request_id,
        "inside": inside,
        "pid": std::process::id(),
    });
    meeting.inside.fetch_sub(1, Ordering::SeqCst);
    Ok(answer)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let meeting = Arc::new(Meeting::default());
    lambda_runtime::run_concurrent(service_fn(move |event| handle(meeting.clone(), event))).await
}
