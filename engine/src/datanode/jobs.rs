//! Manual compactions as jobs: planned at once under the collection's seal
//! lock, merged in the background, remembered for `GetCompactionState` and
//! `GetCompactionPlans` (Milvus's compaction id and its merge plans).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::collection::CollectionData;
use super::compact::{force_plan, merge, plan, SMALL_FRACTION};
use super::DataNode;
use crate::error::Result;
use crate::roles::{CompactRequest, CompactionJob, MergePlan};
use crate::segment::SegmentId;

/// Manual compactions a data node remembers for `GetCompactionState`.
const JOBS_KEPT: usize = 1024;

/// Recent manual compactions, newest last.
#[derive(Default)]
pub struct Jobs(VecDeque<CompactionJob>);

impl Jobs {
    fn add(&mut self, job: CompactionJob) {
        if self.0.len() == JOBS_KEPT {
            self.0.pop_front();
        }
        self.0.push_back(job);
    }

    /// The job with this id, if still remembered.
    pub fn get(&self, id: i64) -> Option<CompactionJob> {
        self.0.iter().find(|j| j.id == id).cloned()
    }

    /// The remembered jobs of one collection, oldest first.
    pub fn of_collection(&self, collection: i64) -> Vec<CompactionJob> {
        self.0
            .iter()
            .filter(|j| j.collection == collection)
            .cloned()
            .collect()
    }

    fn finish(&mut self, job: i64, plan: i64, failure: Option<String>) {
        if let Some(p) = self
            .0
            .iter_mut()
            .filter(|j| j.id == job)
            .flat_map(|j| j.plans.iter_mut())
            .find(|p| p.id == plan)
        {
            p.done = true;
            p.failure = failure;
        }
    }
}

/// Plans a manual compaction under the collection's seal lock and runs its
/// merges in the background, still under that lock (so no seal or automatic
/// compaction changes the sources in between). Returns the job at once.
pub async fn start_job(
    node: &Arc<DataNode>,
    data: &Arc<CollectionData>,
    req: CompactRequest,
    seal_rows: usize,
) -> Result<CompactionJob> {
    let seal = data.seal_lock.clone().lock_owned().await;
    let snapshot = data.snapshot();
    let groups = match req.target_bytes {
        Some(t) => force_plan(&snapshot, t),
        None => plan(&snapshot, (seal_rows / SMALL_FRACTION).max(1)),
    };
    let partition_of: HashMap<SegmentId, (i64, bool)> = snapshot
        .iter()
        .map(|s| (s.id, (s.partition, s.deleted.count() > 0)))
        .collect();
    let job_id = node.coord.next_id();
    let mut plans = Vec::with_capacity(groups.len());
    for sources in groups {
        let (partition, dirty) = partition_of.get(&sources[0]).copied().unwrap_or((0, false));
        // A force-merge group of one segment without deleted rows is already
        // what the merge would write.
        let noop = sources.len() == 1 && !dirty;
        plans.push(MergePlan {
            id: node.coord.next_id(),
            partition,
            target: if noop {
                sources[0]
            } else {
                node.coord.next_id()
            },
            sources,
            done: noop,
            failure: None,
        });
    }
    let job = CompactionJob {
        id: job_id,
        collection: data.id,
        plans,
    };
    node.jobs.lock().add(job.clone());
    let work: Vec<MergePlan> = job.plans.iter().filter(|p| !p.done).cloned().collect();
    if work.is_empty() {
        return Ok(job);
    }
    let (node2, data2) = (node.clone(), data.clone());
    node.spawn(async move {
        for p in work {
            let r = merge(&node2, &data2, &p.sources, p.target).await;
            if let Err(e) = &r {
                tracing::warn!(collection = data2.id, plan = p.id, error = %e, "compaction plan failed");
            }
            node2.jobs.lock().finish(job_id, p.id, r.err().map(|e| e.to_string()));
        }
        drop(seal);
        if let Some(meta) = node2.coord.collection_by_id(data2.id) {
            node2.ensure_indexes(&meta);
        }
    });
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_forget_the_oldest_and_record_plan_outcomes() {
        let mut jobs = Jobs::default();
        let plan = |id| MergePlan {
            id,
            partition: 1,
            sources: vec![1, 2],
            target: 3,
            done: false,
            failure: None,
        };
        for id in 0..JOBS_KEPT as i64 + 1 {
            jobs.add(CompactionJob {
                id,
                collection: 7,
                plans: vec![plan(id * 10), plan(id * 10 + 1)],
            });
        }
        assert!(jobs.get(0).is_none(), "the oldest job is forgotten");
        let last = JOBS_KEPT as i64;
        jobs.finish(last, last * 10, None);
        assert!(!jobs.get(last).is_some_and(|j| j.done()));
        jobs.finish(last, last * 10 + 1, Some("disk full".into()));
        let j = jobs.get(last).expect("job");
        assert!(j.done());
        assert_eq!(j.plans[1].failure.as_deref(), Some("disk full"));
    }
}
