//! Grouping search: at most `group_size` hits per distinct value of a field,
//! at most `limit` groups, groups ordered by their best hit.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::exec::{Grouping, Hit};
use crate::segment::Segment;

/// The group key of a hit: the field's value rendered as text (null → "").
fn group_key(segments: &[Arc<Segment>], h: &Hit, column: usize) -> String {
    let seg = &segments[h.seg];
    let (c, r) = seg.locate(h.row);
    let col = seg.column(c, column);
    if col.is_null(r) {
        return String::new();
    }
    match ArrayFormatter::try_new(col.as_ref(), &FormatOptions::default()) {
        Ok(f) => f.value(r).to_string(),
        Err(_) => String::new(),
    }
}

/// Groups best-first hits; the result lists each group's hits together.
pub fn group_hits(
    segments: &[Arc<Segment>],
    hits: Vec<Hit>,
    g: Grouping,
    limit: usize,
) -> Vec<Hit> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<Hit>> = HashMap::new();
    for h in hits {
        let key = group_key(segments, &h, g.column);
        match groups.get_mut(&key) {
            Some(v) => {
                if v.len() < g.group_size.max(1) {
                    v.push(h);
                }
            }
            None => {
                if order.len() < limit {
                    order.push(key.clone());
                    groups.insert(key, vec![h]);
                }
            }
        }
    }
    order
        .into_iter()
        .flat_map(|k| groups.remove(&k).unwrap_or_default())
        .collect()
}
