//! The coordinator's table of index builds in flight.
//!
//! DescribeIndex's `indexed_rows`/`pending_index_rows` and every cancellation
//! (DropIndex, ReleaseCollection, DropCollection) read or write this table
//! only; the node running a build reports its progress here and learns of a
//! cancellation from the answer. Nothing in it is shared with the builder, so
//! the builder may run in another process.

use std::collections::HashMap;

use parking_lot::Mutex;
use quiver_types::{CollectionId, SegmentId};

use crate::roles::BuildKey;

/// One build in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Entry {
    indexed_rows: usize,
    cancelled: bool,
}

/// The table. Small (one entry per segment being indexed), so a mutex is fine.
#[derive(Default)]
pub struct BuildTable {
    entries: Mutex<HashMap<BuildKey, Entry>>,
}

impl BuildTable {
    /// Registers a build; false if one for the key is already in flight.
    pub fn claim(&self, key: BuildKey) -> bool {
        let mut e = self.entries.lock();
        if e.contains_key(&key) {
            return false;
        }
        e.insert(key, Entry::default());
        true
    }

    /// Records progress; false if the build was cancelled or is unknown.
    pub fn report(&self, key: BuildKey, indexed_rows: usize) -> bool {
        match self.entries.lock().get_mut(&key) {
            Some(e) if !e.cancelled => {
                e.indexed_rows = indexed_rows;
                true
            }
            _ => false,
        }
    }

    /// Removes the build; true if it had been cancelled. An unknown build
    /// counts as cancelled: nobody is waiting for its graph.
    pub fn end(&self, key: BuildKey) -> bool {
        self.entries.lock().remove(&key).is_none_or(|e| e.cancelled)
    }

    /// Marks the builds of `coll` (of one field, if given) cancelled.
    pub fn cancel(&self, coll: CollectionId, field_id: Option<i64>) {
        for ((c, _, f), e) in self.entries.lock().iter_mut() {
            if *c == coll && field_id.is_none_or(|id| id == *f) {
                e.cancelled = true;
            }
        }
    }

    /// Segments being indexed for the field, with their progress.
    pub fn in_flight(&self, coll: CollectionId, field_id: i64) -> Vec<(SegmentId, usize)> {
        self.entries
            .lock()
            .iter()
            .filter(|((c, _, f), e)| *c == coll && *f == field_id && !e.cancelled)
            .map(|((_, s, _), e)| (*s, e.indexed_rows))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_is_claimed_once_reports_and_ends() {
        let t = BuildTable::default();
        assert!(t.claim((1, 10, 100)));
        assert!(!t.claim((1, 10, 100)), "a second claim of the same build");
        assert!(t.claim((1, 11, 100)));
        assert!(t.report((1, 10, 100), 500));
        let mut rows = t.in_flight(1, 100);
        rows.sort_unstable();
        assert_eq!(rows, vec![(10, 500), (11, 0)]);
        assert!(t.in_flight(1, 101).is_empty());
        assert!(!t.end((1, 10, 100)), "not cancelled");
        assert!(t.claim((1, 10, 100)), "claimable again once ended");
    }

    #[test]
    fn cancellation_reaches_the_builder_and_the_end() {
        let t = BuildTable::default();
        for key in [(1, 10, 100), (1, 10, 101), (2, 20, 100)] {
            assert!(t.claim(key));
        }
        t.cancel(1, Some(100));
        assert!(
            !t.report((1, 10, 100), 7),
            "the builder learns it was cancelled"
        );
        assert!(t.report((1, 10, 101), 7), "another field's build goes on");
        assert!(t.in_flight(1, 100).is_empty());
        assert!(t.end((1, 10, 100)));
        t.cancel(1, None);
        assert!(t.end((1, 10, 101)));
        assert!(!t.end((2, 20, 100)), "another collection's build goes on");
        assert!(!t.report((9, 9, 9), 1), "an unknown build is not wanted");
    }
}
