//! Telemetry API and Logs API subscribers (spec §6): the records the log
//! hub hands them (platform events, and the `function` / `extension` log
//! lines it captured), a bounded queue per subscriber, and a delivery task
//! per subscriber that batches and sends them (`delivery`).
//!
//! The hub calls [`Subscribers::push`] for every record, in its one order;
//! a push never waits: it appends to each interested subscriber's queue
//! (or counts the record as dropped when that queue is full) and wakes its
//! task. So a slow, refusing or silent subscriber costs the function
//! nothing but the queue's bounded memory.
//!
//! From the start of each init until its first invoke, the records are also
//! kept in a bounded backlog, which a subscription made meanwhile gets
//! first: the extension subscribes during init, after the init's first
//! records (as Lambda delivers the init phase's logs). A new init
//! (`platform.initStart`) begins a new sandbox: the previous one's
//! extensions are gone, and so are their subscriptions.

mod delivery;
pub(crate) use delivery::{http_post, HttpConnection, SendError};
mod render;

use crate::events::{Record, TelemetrySubscription};
use crate::PlatformEvent;
use interop::subscription::{Api, Subscription, Types};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;

/// Who wrote a captured line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The runtime and the function it runs (`function` records).
    Function,
    /// An external extension (`extension` records).
    Extension,
}

/// A captured log line as a record.
#[derive(Debug)]
pub(crate) struct LineRecord {
    pub time: SystemTime,
    pub origin: Origin,
    pub text: Box<str>,
    /// With `AWS_LAMBDA_LOG_FORMAT=JSON`, a line that is a JSON object.
    pub json: Option<Value>,
}

/// One record, shared by every queue it is in.
#[derive(Debug)]
pub(crate) enum Item {
    Line(LineRecord),
    Event(PlatformEvent),
}

impl Item {
    fn wanted_by(&self, types: Types) -> bool {
        match self {
            Item::Event(_) => types.platform,
            Item::Line(line) => match line.origin {
                Origin::Function => types.function,
                Origin::Extension => types.extension,
            },
        }
    }

    /// About what it weighs as JSON, for the queues' byte bounds.
    fn weight(&self) -> usize {
        match self {
            Item::Line(line) => line.text.len() + 64,
            Item::Event(_) => 256,
        }
    }
}

/// Records not yet taken by a delivery task, within its bounds.
struct Queue {
    items: VecDeque<Arc<Item>>,
    bytes: usize,
    max_items: usize,
    max_bytes: usize,
    dropped_records: u64,
    dropped_bytes: u64,
    /// The subscription ends: send what is queued, then stop.
    closing: bool,
}

impl Queue {
    fn new(max_items: usize, max_bytes: usize) -> Queue {
        Queue {
            items: VecDeque::new(),
            bytes: 0,
            max_items,
            max_bytes,
            dropped_records: 0,
            dropped_bytes: 0,
            closing: false,
        }
    }

    /// Appends `item`; says false (and counts it) when the queue is full.
    fn push(&mut self, item: Arc<Item>) -> bool {
        let weight = item.weight();
        if self.items.len() >= self.max_items || self.bytes + weight > self.max_bytes {
            self.dropped_records += 1;
            self.dropped_bytes += weight as u64;
            return false;
        }
        self.bytes += weight;
        self.items.push_back(item);
        true
    }

    fn pop(&mut self) -> Option<Arc<Item>> {
        let item = self.items.pop_front()?;
        self.bytes -= item.weight();
        Some(item)
    }

    fn push_front(&mut self, item: Arc<Item>) {
        self.bytes += item.weight();
        self.items.push_front(item);
    }
}

/// A queue and the wake-up of the task that empties it.
pub(crate) struct Shared {
    queue: Mutex<Queue>,
    wake: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while holding the lock; the queue stays whole.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How many buffers' worth of records wait behind the batch in flight
/// before records are dropped.
const BUFFERS_QUEUED: usize = 4;
/// The backlog of the current init, for subscriptions made during it.
const BACKLOG_ITEMS: usize = 10_000;
const BACKLOG_BYTES: usize = 4 * 1024 * 1024;

struct Subscriber {
    /// The extension's identifier: subscribing again replaces the subscription.
    extension_id: String,
    api: Api,
    types: Types,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
pub(crate) struct Subscribers {
    list: Vec<Subscriber>,
    /// From an init's start to its first invoke.
    backlog: Option<Queue>,
}

impl Subscribers {
    /// Whether captured lines are wanted as records now.
    pub fn wants_lines(&self) -> bool {
        self.backlog.is_some()
            || self
                .list
                .iter()
                .any(|s| s.types.function || s.types.extension)
    }

    /// Whether anyone reads platform events now.
    pub fn wants_events(&self) -> bool {
        self.backlog.is_some() || !self.list.is_empty()
    }

    /// Hands `item` to the backlog and every subscriber that wants it.
    pub fn push(&mut self, item: Item) {
        if let Item::Event(event) = &item {
            if let Record::InitStart(_) = event.record {
                // A new sandbox: its extensions subscribe anew.
                self.list.clear();
                self.backlog = Some(Queue::new(BACKLOG_ITEMS, BACKLOG_BYTES));
            }
        }
        let start = matches!(&item, Item::Event(e) if matches!(e.record, Record::Start(_)));
        let item = Arc::new(item);
        if let Some(backlog) = &mut self.backlog {
            if !backlog.push(item.clone()) {
                // Keep the newest: the oldest goes, counted.
                let _ = backlog.pop();
                backlog.push(item.clone());
            }
        }
        for subscriber in &self.list {
            if item.wanted_by(subscriber.types) {
                subscriber.shared.lock().push(item.clone());
                subscriber.shared.wake.notify_one();
            }
        }
        if start {
            self.backlog = None;
        }
    }

    /// An invoke starts: the init's backlog ends (as with its
    /// `platform.start`, which the engine builds only when someone reads
    /// events: without this, the backlog of an init with no subscriber
    /// would keep every line up to its bound, 4 MB, and copy each).
    pub fn invoke_started(&mut self) {
        self.backlog = None;
    }

    /// Adds (or replaces) the subscription of extension `name`, gives it
    /// the backlog, and returns the event that says so.
    pub fn subscribe(
        &mut self,
        extension_id: String,
        name: String,
        subscription: Subscription,
    ) -> PlatformEvent {
        let buffering = subscription.buffering;
        let mut queue = Queue::new(
            BUFFERS_QUEUED * buffering.max_items,
            BUFFERS_QUEUED * buffering.max_bytes,
        );
        let same = |s: &Subscriber| {
            s.extension_id == extension_id
                && matches!(
                    (s.api, subscription.api),
                    (Api::Logs, Api::Logs) | (Api::Telemetry(_), Api::Telemetry(_))
                )
        };
        let earlier = self
            .list
            .iter()
            .position(same)
            .map(|at| self.list.remove(at));
        match &earlier {
            // What the replaced subscription had not sent yet goes on.
            Some(old) => {
                let mut old_queue = old.shared.lock();
                while let Some(item) = old_queue.pop() {
                    if item.wanted_by(subscription.types) {
                        queue.push(item);
                    }
                }
                queue.dropped_records += old_queue.dropped_records;
                queue.dropped_bytes += old_queue.dropped_bytes;
            }
            None => {
                if let Some(backlog) = &self.backlog {
                    for item in &backlog.items {
                        if item.wanted_by(subscription.types) {
                            queue.push(item.clone());
                        }
                    }
                    queue.dropped_records += backlog.dropped_records;
                    queue.dropped_bytes += backlog.dropped_bytes;
                }
            }
        }
        drop(earlier);
        let shared = Arc::new(Shared {
            queue: Mutex::new(queue),
            wake: Notify::new(),
        });
        let types = subscription.types;
        let api = subscription.api;
        let task = tokio::spawn(delivery::run(shared.clone(), subscription));
        shared.wake.notify_one();
        self.list.push(Subscriber {
            extension_id,
            api,
            types,
            shared,
            task,
        });
        PlatformEvent::now(TelemetrySubscription {
            name,
            state: "Subscribed",
            types: types.names(),
        })
    }

    /// Ends every subscription: each task sends what it has queued, for at
    /// most `within`; what is left then is dropped.
    pub async fn close(&mut self, within: Duration) {
        for subscriber in &self.list {
            subscriber.shared.lock().closing = true;
            subscriber.shared.wake.notify_one();
        }
        let deadline = tokio::time::Instant::now() + within;
        for subscriber in &mut self.list {
            let _ = tokio::time::timeout_at(deadline, &mut subscriber.task).await;
        }
        self.list.clear();
    }
}

#[cfg(test)]
mod tests;
