//! The visibility watermark of one collection: up to which timestamp every
//! acknowledged write has been applied, so a read can wait for its guarantee
//! timestamp instead of relying on sharing memory with the writer.
//!
//! Writers allocate a record's timestamp and apply it under the collection's
//! write-order lock; [`TSafe::begin`] is called before the timestamp is
//! allocated and [`TSafe::end`] after the rows are applied. A reader that finds
//! no write in flight may therefore treat "now" as safe: any write not yet
//! applied will be given a later timestamp than the one the reader just took
//! (the timestamp oracle is monotonic and the in-flight flag is set before the
//! allocation). While a write is in flight, only what was applied is safe.
//! This is Milvus's `tSafe` without time-tick messages: in standalone the
//! watermark advances the moment a write lands.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quiver_types::Timestamp;
use tokio::sync::Notify;

/// The per-collection watermark.
#[derive(Default)]
pub struct TSafe {
    in_flight: AtomicBool,
    applied: AtomicU64,
    advanced: Notify,
}

impl TSafe {
    /// A write is about to allocate its timestamp (caller holds the write-order lock).
    pub fn begin(&self) {
        self.in_flight.store(true, Ordering::SeqCst);
    }

    /// The write with timestamp `ts` is applied and visible.
    pub fn end(&self, ts: Timestamp) {
        self.applied.fetch_max(ts, Ordering::SeqCst);
        self.in_flight.store(false, Ordering::SeqCst);
        self.advanced.notify_waiters();
    }

    /// Records replayed from the log at start-up.
    pub fn replayed(&self, ts: Timestamp) {
        self.applied.fetch_max(ts, Ordering::SeqCst);
    }

    /// The highest timestamp a read may be served at: `now` (freshly taken from
    /// the timestamp oracle by the caller, *before* this call) when no write is
    /// in flight, else the last applied write's.
    pub fn safe_ts(&self, now: Timestamp) -> Timestamp {
        if self.in_flight.load(Ordering::SeqCst) {
            self.applied.load(Ordering::SeqCst)
        } else {
            now
        }
    }

    /// Waits until `guarantee` is safe, re-taking `now` from `clock` on every
    /// check; gives up at `deadline` and returns false.
    pub async fn wait(
        &self,
        guarantee: Timestamp,
        clock: impl Fn() -> Timestamp,
        deadline: Instant,
    ) -> bool {
        loop {
            let notified = self.advanced.notified();
            if self.safe_ts(clock()) >= guarantee {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // A write in flight ends within the lock's hold time; poll as well in
            // case the notification raced with `notified()` being armed.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(20)), notified).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    #[test]
    fn in_flight_write_holds_the_watermark_back() {
        let t = TSafe::default();
        assert_eq!(t.safe_ts(100), 100, "nothing in flight: now is safe");
        t.begin();
        assert_eq!(
            t.safe_ts(200),
            0,
            "an unapplied write may have any ts ≤ now"
        );
        t.end(150);
        assert_eq!(t.safe_ts(300), 300);
        t.begin();
        assert_eq!(t.safe_ts(400), 150);
    }

    #[tokio::test]
    async fn wait_returns_once_the_write_lands_and_times_out_otherwise() {
        let t = Arc::new(TSafe::default());
        let clock = Arc::new(AtomicU64::new(10));
        t.begin();
        let (t2, c2) = (t.clone(), clock.clone());
        let waiter = tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(5);
            t2.wait(10, || c2.load(Ordering::SeqCst), deadline).await
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        t.end(10);
        assert!(waiter.await.expect("join"));
        t.begin();
        let deadline = Instant::now() + Duration::from_millis(50);
        assert!(!t.wait(20, || clock.load(Ordering::SeqCst), deadline).await);
    }
}
