//! Property tests over the request decoders: mutated wire messages through
//! `insert_batch` and `decode_placeholder_group`, random search parameters
//! through the proxy's parser. Every input must give a value or an in-band
//! user error — never a panic — and no call may allocate more than a bound
//! derived from the size of the message that produced it.
//!
//! The bound is measured with a counting global allocator (test builds only)
//! that tracks the peak of live bytes allocated on the current thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::prelude::*;
use prost::Message;
use quiver_storage::DataType;

use super::tests_insert::{base, field, schema};
use super::{decode_placeholder_group, insert_batch};
use crate::proto::common::{PlaceholderGroup, PlaceholderType, PlaceholderValue};
use crate::proto::milvus::InsertRequest;

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = LIVE.try_with(|l| {
        let now = l.get() + delta;
        l.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak extra bytes `f` had live on this thread at once.
fn peak_bytes<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let out = f();
    let peak = PEAK.with(Cell::get) - start;
    (out, peak.max(0) as usize)
}

/// What any decoder may use for a message of `len` bytes: Arrow buffers, the
/// decoded protobuf and per-row scratch are a small multiple of the input.
fn budget(len: usize) -> usize {
    64 * len + (4 << 20)
}

fn valid_insert(n: usize) -> Vec<u8> {
    InsertRequest {
        collection_name: "c".into(),
        fields_data: base(n),
        num_rows: n as u32,
        ..Default::default()
    }
    .encode_to_vec()
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)]) -> Vec<u8> {
    for &(at, b) in edits {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] = b;
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_inserts_never_panic_nor_overallocate(
        n in 1usize..20,
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        num_rows in prop::option::of(any::<u32>()),
    ) {
        let wire = mutate(valid_insert(n), &edits);
        let s = schema(vec![field(102, "j", DataType::Json)], true);
        let ((), peak) = peak_bytes(|| {
            if let Ok(mut req) = InsertRequest::decode(wire.as_slice()) {
                if let Some(r) = num_rows {
                    req.num_rows = r;
                }
                let mut next = 0i64;
                let mut ids = || { next += 1; next };
                if let Err(e) = insert_batch(&s, req.fields_data, req.num_rows as usize, false, &mut ids) {
                    assert!(e.is_user_error(), "{e}");
                }
            }
        });
        prop_assert!(peak <= budget(wire.len()), "peak {peak} for {} bytes", wire.len());
    }

    #[test]
    fn random_placeholder_groups_never_panic_nor_overallocate(
        raw in prop::collection::vec(any::<u8>(), 0..256),
        dim in 0usize..64,
        nq in 0usize..8,
        ty in prop::sample::select(vec![
            PlaceholderType::FloatVector, PlaceholderType::Float16Vector,
            PlaceholderType::BFloat16Vector, PlaceholderType::BinaryVector,
        ]),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
    ) {
        // Half the cases are random bytes, half a real group with corrupted bytes.
        let group = PlaceholderGroup {
            placeholders: vec![PlaceholderValue {
                tag: "$0".into(),
                r#type: ty as i32,
                values: (0..nq).map(|i| raw.iter().cycle().skip(i).take(dim * 4).copied().collect()).collect(),
                ..Default::default()
            }],
        }.encode_to_vec();
        for wire in [raw.clone(), mutate(group, &edits)] {
            let (res, peak) = peak_bytes(|| decode_placeholder_group(&wire, dim));
            if let Ok(qs) = &res {
                prop_assert!(qs.iter().all(|q| q.len() == dim && q.iter().all(|x| x.is_finite())));
            }
            if let Err(e) = &res {
                prop_assert!(e.is_user_error(), "{e}");
            }
            prop_assert!(peak <= budget(wire.len()), "peak {peak} for {} bytes", wire.len());
        }
    }
}

#[test]
fn a_hostile_num_rows_allocates_nothing_big() {
    let wire = valid_insert(1);
    let s = schema(vec![], true);
    for num_rows in [u32::MAX, 1 << 30, 1 << 20] {
        let ((), peak) = peak_bytes(|| {
            let req = InsertRequest::decode(wire.as_slice()).expect("valid message");
            let mut ids = || 1i64;
            let r = insert_batch(&s, req.fields_data, num_rows as usize, false, &mut ids);
            assert!(r.is_err(), "num_rows {num_rows} accepted");
        });
        assert!(
            peak <= budget(wire.len()),
            "peak {peak} for num_rows {num_rows}"
        );
    }
}
