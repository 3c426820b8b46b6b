//! Memory given back after bursts of payloads: fifty invokes of 100 KB at
//! once leave rapid's heap holding megabytes of freed buffers between live
//! ones, which glibc's malloc keeps (it only trims the heap's top). Once
//! more than [`PAYLOAD_BYTES`] of payloads went through since the last
//! time and nothing is in flight any more, rapid waits [`SETTLE`] for the
//! last answers to be written and gives the free pages back
//! (`malloc_trim`). Small invokes, one at a time, almost never pay for it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Payload bytes after which the heap is worth trimming.
pub const PAYLOAD_BYTES: usize = 4 * 1024 * 1024;
/// How long after the last invoke in flight ends rapid gives memory back.
pub const SETTLE: Duration = Duration::from_millis(100);

/// The invokes in flight, and the payload bytes since memory was last
/// given back.
#[derive(Default)]
pub struct Bursts {
    in_flight: AtomicUsize,
    bytes: AtomicUsize,
}

/// One invoke in flight, until dropped.
pub struct InFlight(Arc<Bursts>);

impl Bursts {
    /// An invoke with a payload of `len` bytes begins.
    pub fn enter(self: &Arc<Self>, len: usize) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.bytes.fetch_add(len, Ordering::AcqRel);
        InFlight(self.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let bursts = &self.0;
        if bursts.in_flight.fetch_sub(1, Ordering::AcqRel) != 1
            || bursts.bytes.load(Ordering::Acquire) < PAYLOAD_BYTES
        {
            return;
        }
        let bytes = bursts.bytes.swap(0, Ordering::AcqRel);
        let bursts = bursts.clone();
        let settled = async move {
            tokio::time::sleep(SETTLE).await;
            if bursts.in_flight.load(Ordering::Acquire) == 0 {
                let given = rapid::supervisor::give_back_free_memory();
                tracing::debug!(
                    bytes,
                    given,
                    "payloads went through: free memory given back"
                );
            } else {
                // Not over yet (or more began): the next end gives it back.
                bursts.bytes.fetch_add(bytes, Ordering::AcqRel);
            }
        };
        // Outside a runtime (a test dropping it) there is nothing to wait for.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(settled);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_due_once_enough_payload_went_through_and_nothing_is_in_flight() {
        let bursts = Arc::new(Bursts::default());
        // Small payloads: nothing due.
        for _ in 0..100 {
            drop(bursts.enter(1024));
        }
        assert_eq!(bursts.bytes.load(Ordering::Acquire), 100 * 1024);
        // Enough of them, still in flight: not yet.
        let mut many: Vec<InFlight> = (0..50).map(|_| bursts.enter(100 * 1024)).collect();
        assert!(bursts.bytes.load(Ordering::Acquire) >= PAYLOAD_BYTES);
        let last = many.pop();
        drop(many);
        assert!(
            bursts.bytes.load(Ordering::Acquire) >= PAYLOAD_BYTES,
            "one is in flight"
        );
        // The last one ends: due, and counted from zero again.
        drop(last);
        assert_eq!(bursts.in_flight.load(Ordering::Acquire), 0);
        assert_eq!(bursts.bytes.load(Ordering::Acquire), 0);
    }
}
