//! The log of platform events the control API's `GET /test/eventLog`
//! returns: the most recent [`EVENT_LOG_CAPACITY`] events, in the order they
//! happened. rapid keeps it only when the control API is served: nobody
//! else could read it, and a full log costs about 3.5 MB of memory.
//!
//! Only the log hub writes to it (in the order of its one channel, so an
//! invoke's `platform.report`, which the hub builds, never lands after the
//! next invoke's events); anyone holding a clone reads it, also after the
//! hub has ended. The events stay typed until read.

use crate::events::PlatformEvent;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// How many events the log keeps: past this, the oldest go, so that a long
/// run does not grow rapid's memory without limit.
pub const EVENT_LOG_CAPACITY: usize = 10_000;

/// A cloneable handle on one log.
#[derive(Clone)]
pub struct EventLog {
    events: Arc<Mutex<Ring>>,
    /// Whether it keeps anything (fixed at creation).
    keeps: bool,
}

struct Ring {
    events: VecDeque<PlatformEvent>,
    capacity: usize,
    /// How many events were dropped to keep the log bounded.
    dropped: u64,
}

impl EventLog {
    /// A log of the most recent `capacity` events (0: a log that keeps none).
    pub fn new(capacity: usize) -> EventLog {
        EventLog {
            events: Arc::new(Mutex::new(Ring {
                events: VecDeque::new(),
                capacity,
                dropped: 0,
            })),
            keeps: capacity > 0,
        }
    }

    /// Whether this log keeps events at all (a log of no capacity does not:
    /// then nobody needs them built).
    pub fn keeps(&self) -> bool {
        self.keeps
    }

    pub(crate) fn push(&self, event: PlatformEvent) {
        let mut ring = self.lock();
        if ring.capacity == 0 {
            ring.dropped += 1;
            return;
        }
        if ring.events.len() >= ring.capacity {
            ring.events.pop_front();
            ring.dropped += 1;
        }
        ring.events.push_back(event);
    }

    /// The log as a JSON array, oldest first.
    pub fn to_json(&self) -> Vec<u8> {
        let ring = self.lock();
        // Only strings, numbers and maps: serialising cannot fail.
        serde_json::to_vec(&ring.events).unwrap_or_else(|_| b"[]".to_vec())
    }

    /// The events, oldest first.
    pub fn events(&self) -> Vec<PlatformEvent> {
        self.lock().events.iter().cloned().collect()
    }

    /// How many older events were dropped to keep the log bounded.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    fn lock(&self) -> MutexGuard<'_, Ring> {
        // Nothing panics while holding the lock; if something did, the
        // events are still whole.
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{InitPhase, InitStart, InitializationType};

    fn init_start(n: usize) -> PlatformEvent {
        PlatformEvent::now(InitStart {
            initialization_type: InitializationType::OnDemand,
            phase: InitPhase::Init,
            function_name: format!("f{n}"),
            function_version: "$LATEST".into(),
            runtime_version: None,
            runtime_version_arn: None,
        })
    }

    #[test]
    fn keeps_the_most_recent_events_in_order() {
        let log = EventLog::new(EVENT_LOG_CAPACITY);
        assert_eq!(log.to_json(), b"[]");
        for n in 0..EVENT_LOG_CAPACITY + 5 {
            log.push(init_start(n));
        }
        let events = log.events();
        assert_eq!(events.len(), EVENT_LOG_CAPACITY);
        assert_eq!(log.dropped(), 5);
        let name = |event: &PlatformEvent| match &event.record {
            crate::events::Record::InitStart(r) => r.function_name.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(name(&events[0]), "f5");
        assert_eq!(
            name(&events[EVENT_LOG_CAPACITY - 1]),
            format!("f{}", EVENT_LOG_CAPACITY + 4)
        );
        let json: serde_json::Value = serde_json::from_slice(&log.to_json()).unwrap();
        assert_eq!(json.as_array().map(Vec::len), Some(EVENT_LOG_CAPACITY));
        assert_eq!(json[0]["type"], "platform.initStart");
        assert_eq!(json[0]["record"]["functionName"], "f5");
    }

    #[test]
    fn a_log_of_no_capacity_keeps_nothing() {
        let log = EventLog::new(0);
        log.push(init_start(1));
        assert_eq!(log.events(), Vec::new());
        assert_eq!(log.dropped(), 1);
        assert_eq!(log.to_json(), b"[]");
    }
}
