//! WAL retention: which log files a restart still needs, and the idle seal
//! that keeps one quiet collection from pinning the whole log.
//!
//! The log is shared by every collection, so a file can go once every *live*
//! collection has checkpointed past it: each contributes the first LSN it has
//! not yet persisted (none if it is fully sealed), dropped collections
//! contribute nothing, and everything below the smallest is deletable. Alone,
//! that lets one small unflushed write hold every later file on disk, so a
//! background task seals growing segments (and persists delete masks) of a
//! collection that has had no writes for `seal_idle` — Milvus seals idle
//! segments after `dataCoord.segment.maxIdleTime` (600 s) for the same reason.
//! The same task truncates the log on every tick, so files freed by a drop or a
//! seal go soon, and a fully checkpointed active file rolls over and goes too.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::DataNode;
use crate::error::Result;

/// Shortest and longest pause between two retention passes.
const TICK_MIN: Duration = Duration::from_millis(200);
const TICK_MAX: Duration = Duration::from_secs(10);

/// How often the retention task looks: often enough that an idle segment is
/// sealed within a quarter of the idle limit past it.
pub(super) fn tick(seal_idle: Duration) -> Duration {
    (seal_idle / 4).clamp(TICK_MIN, TICK_MAX)
}

impl DataNode {
    /// Removes WAL files no live collection needs any more.
    ///
    /// Each collection is read under its write-order lock: a record is
    /// submitted to the log and applied to memory under that lock, so a record
    /// at or below `last` is either applied (and counted in
    /// `first_unsealed_lsn`) or about to be, and then this waits for it.
    /// Without the lock a record logged but not yet applied could be deleted.
    pub(super) fn truncate_wal(&self) -> Result<()> {
        let last = self.wal.last_lsn();
        let live: Vec<_> = self.collections.read().values().cloned().collect();
        let needed = live
            .iter()
            .filter_map(|d| {
                let _order = d.write_order.lock();
                let st = d.state.read();
                match (st.first_unsealed_lsn, st.sealing_from) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            })
            .min()
            .unwrap_or(last + 1)
            .min(last + 1);
        self.wal.truncate_before(needed)?;
        Ok(())
    }

    /// Collections holding unpersisted changes with no write for `idle`.
    fn idle_collections(&self, idle: Duration, now: Instant) -> Vec<i64> {
        self.collections
            .read()
            .values()
            .filter(|d| {
                let st = d.state.read();
                st.first_unsealed_lsn.is_some()
                    && st
                        .last_write
                        .is_none_or(|t| now.saturating_duration_since(t) >= idle)
            })
            .map(|d| d.id)
            .collect()
    }

    /// One retention pass: seal idle collections, then drop what the log no
    /// longer needs.
    pub(super) async fn retention_pass(self: &Arc<Self>) {
        for id in self.idle_collections(self.cfg.seal_idle, Instant::now()) {
            tracing::debug!(collection = id, "sealing idle growing segments");
            if let Err(e) = self.flush(id).await {
                tracing::warn!(collection = id, error = %e, "idle seal failed");
            }
        }
        if let Err(e) = self.truncate_wal() {
            tracing::warn!(error = %e, "wal truncation failed");
        }
    }

    /// Starts the retention task; it ends once the node is dropped or shut down.
    pub(super) fn spawn_retention(self: &Arc<Self>) {
        let weak: Weak<DataNode> = Arc::downgrade(self);
        let every = tick(self.cfg.seal_idle);
        self.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(node) = weak.upgrade() else {
                    return;
                };
                node.retention_pass().await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_is_a_quarter_of_the_idle_limit_within_bounds() {
        assert_eq!(tick(Duration::from_secs(600)), TICK_MAX);
        assert_eq!(tick(Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(tick(Duration::ZERO), TICK_MIN);
    }
}
