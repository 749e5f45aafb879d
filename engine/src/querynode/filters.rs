//! Bound filters, cached by expression digest.
//!
//! A filter crosses the proxy → query-node boundary as text, and both sides
//! parse it: the proxy to refuse bad expressions early and to prune
//! partitions, the node to evaluate it against the schema it holds. For the
//! megabyte-long expressions clients do send (`id in [...]` with 600k keys,
//! generated `or` chains) parsing is the dominant cost, so nodes keep the last
//! few large bound filters keyed by (collection, schema shape, SHA-256 of the
//! expression and its template values). In the standalone wiring the proxy
//! and the query node share one cache, so the second parse is a lookup; a
//! remote node has its own and parses each distinct expression once.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use quiver_filter::{Filter, Limits};
use quiver_storage::CollectionSchema;
use quiver_types::CollectionId;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::roles::FilterExpr;

/// Expressions shorter than this parse in microseconds: not worth a slot.
const MIN_CACHED_BYTES: usize = 1024;
/// Bound filters kept (a 600k-term set is tens of MB, so few).
const CAPACITY: usize = 8;

type Key = (CollectionId, usize, [u8; 32]);

/// The cache; cheap to share behind an `Arc`.
#[derive(Default)]
pub struct FilterCache {
    entries: Mutex<VecDeque<(Key, Arc<Filter>)>>,
}

impl FilterCache {
    /// Parses and binds `f` against `schema` within `limits`, or returns the
    /// filter bound for the same expression before.
    pub fn bind(
        &self,
        collection: CollectionId,
        schema: &CollectionSchema,
        f: &FilterExpr,
        limits: &Limits,
    ) -> Result<Arc<Filter>> {
        if f.expr.len() < MIN_CACHED_BYTES {
            return Ok(Arc::new(Filter::parse_with_limits(
                &f.expr,
                schema,
                &f.templates,
                limits,
            )?));
        }
        let key = (collection, schema.fields.len(), digest(f));
        if let Some((_, hit)) = self.entries.lock().iter().find(|(k, _)| *k == key) {
            return Ok(hit.clone());
        }
        let bound = Arc::new(Filter::parse_with_limits(
            &f.expr,
            schema,
            &f.templates,
            limits,
        )?);
        let mut entries = self.entries.lock();
        if entries.len() >= CAPACITY {
            entries.pop_front();
        }
        entries.push_back((key, bound.clone()));
        Ok(bound)
    }
}

fn digest(f: &FilterExpr) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(f.expr.as_bytes());
    h.update([0u8]);
    // Sorted, so equal template maps hash equally.
    let sorted: BTreeMap<&String, &serde_json::Value> = f.templates.iter().collect();
    for (k, v) in sorted {
        h.update(k.as_bytes());
        h.update([0u8]);
        h.update(v.to_string().as_bytes());
        h.update([0u8]);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_storage::{DataType, FieldSchema};
    use std::collections::HashMap;

    fn schema() -> CollectionSchema {
        let mut id = FieldSchema::new(100, "id", DataType::Int64);
        id.is_primary = true;
        CollectionSchema {
            name: "c".into(),
            description: String::new(),
            fields: vec![id],
            enable_dynamic_field: false,
        }
    }

    fn big(n: usize) -> FilterExpr {
        let expr = (0..n)
            .map(|i| format!("id == {i}"))
            .collect::<Vec<_>>()
            .join(" or ");
        FilterExpr {
            expr,
            templates: HashMap::new(),
            indexes: Vec::new(),
        }
    }

    #[test]
    fn large_expressions_bind_once_small_ones_every_time() {
        let c = FilterCache::default();
        let s = schema();
        let l = Limits::default();
        let a = c
            .bind(1, &s, &big(500), &l)
            .unwrap_or_else(|e| panic!("{e}"));
        let b = c
            .bind(1, &s, &big(500), &l)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            Arc::ptr_eq(&a, &b),
            "the same large expression is a cache hit"
        );
        let other = c
            .bind(2, &s, &big(500), &l)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!Arc::ptr_eq(&a, &other), "another collection binds its own");
        let x = c.bind(1, &s, &big(2), &l).unwrap_or_else(|e| panic!("{e}"));
        let y = c.bind(1, &s, &big(2), &l).unwrap_or_else(|e| panic!("{e}"));
        assert!(!Arc::ptr_eq(&x, &y), "small expressions are not cached");
        // A bad expression is an error every time, never cached.
        let bad = FilterExpr {
            expr: format!("{} or id ==", big(500).expr),
            templates: HashMap::new(),
            indexes: Vec::new(),
        };
        assert!(c.bind(1, &s, &bad, &l).is_err());
        assert!(c.bind(1, &s, &bad, &l).is_err());
    }
}
