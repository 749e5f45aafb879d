//! A seal-shaped flow: WAL records → Parquet on object storage → manifest in
//! the metadata store → WAL truncated → everything readable after "restart".

use std::path::Path;

use bytes::Bytes;
use quiver_storage::{
    batch_to_ipc, batch_to_parquet, decode_bitmap, encode_bitmap, get_json, ipc_to_batch, json_op,
    parquet_to_batch, MetaOp, MetaStore, ObjectStorage, SledMetaStore, Wal, WalOptions,
};
use serde::{Deserialize, Serialize};

use crate::codec::{full_batch, full_schema};
use crate::{ok, tempdir};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Manifest {
    segments: Vec<String>,
    checkpoint_lsn: u64,
}

#[tokio::test]
async fn seal_then_restart_reads_everything() {
    let data = tempdir();
    let schema = full_schema(4);
    let batch = full_batch(&schema, 100);
    let wal_dir = data.path().join("wal");
    let small = WalOptions {
        segment_bytes: 1024,
        sync: true,
    };
    {
        let (wal, _) = ok(Wal::open(&wal_dir, small.clone(), 0));
        for chunk in 0..10 {
            let rows = batch.slice(chunk * 10, 10);
            let (_, ack) = ok(wal.submit(ok(batch_to_ipc(&rows))));
            ok(ack.await);
        }
        // Seal the first 80 rows (lsn 1..=8).
        let objects = ok(ObjectStorage::from_uri("", data.path()));
        let meta = ok(SledMetaStore::open(&data.path().join("meta")));
        let sealed = batch.slice(0, 80);
        let key = "c1/seg-1/data.parquet";
        ok(objects.put(key, ok(batch_to_parquet(&sealed))).await);
        ok(objects
            .put(
                "c1/seg-1/deletes.bin",
                Bytes::from(encode_bitmap(&[0b101], 80)),
            )
            .await);
        let manifest = Manifest {
            segments: vec![key.into()],
            checkpoint_lsn: 8,
        };
        ok(meta.apply(vec![
            ok(json_op("c1/manifest", &manifest)),
            MetaOp::Put("c1/next_segment".into(), b"2".to_vec()),
        ]));
        ok(wal.truncate_before(9));
    }
    // "Restart".
    let meta = ok(SledMetaStore::open(&data.path().join("meta")));
    let manifest: Manifest =
        ok(get_json(&meta, "c1/manifest")).unwrap_or_else(|| panic!("no manifest"));
    let objects = ok(ObjectStorage::from_uri(
        &format!("file://{}", data.path().join("objects").display()),
        Path::new("/unused"),
    ));
    let sealed = ok(parquet_to_batch(
        ok(objects.get(&manifest.segments[0]).await),
        None,
    ));
    assert_eq!(sealed, batch.slice(0, 80));
    let (bits, len) = ok(decode_bitmap(&ok(objects
        .get("c1/seg-1/deletes.bin")
        .await)));
    assert_eq!((bits, len), (vec![0b101, 0], 80));
    let (_, recs) = ok(Wal::open(&wal_dir, small, manifest.checkpoint_lsn));
    let lsns: Vec<u64> = recs.iter().map(|r| r.0).collect();
    assert_eq!(lsns, vec![9, 10]);
    let replayed: Vec<_> = recs.iter().map(|(_, p)| ok(ipc_to_batch(p))).collect();
    assert_eq!(replayed[0], batch.slice(80, 10));
    assert_eq!(replayed[1], batch.slice(90, 10));
}
