//! Hybrid timestamps in Milvus's format: `(unix_ms << 18) | logical`.
//!
//! pymilvus echoes them back as `guarantee_timestamp`; Quiver also uses them as
//! ids, which stay unique across restarts because the physical part moves on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub use quiver_types::physical_ms;
use quiver_types::{compose_ts, Timestamp};

/// A monotonic hybrid-timestamp allocator.
#[derive(Default)]
pub struct Tso {
    last: AtomicU64,
}

impl Tso {
    /// The next timestamp: strictly greater than every earlier one.
    pub fn next(&self) -> Timestamp {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let physical = compose_ts(now_ms, 0);
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = physical.max(prev + 1);
            match self
                .last
                .compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(p) => prev = p,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing() {
        let t = Tso::default();
        let mut prev = 0;
        for _ in 0..10_000 {
            let n = t.next();
            assert!(n > prev);
            prev = n;
        }
        assert!(physical_ms(prev) > 1_600_000_000_000);
    }
}
