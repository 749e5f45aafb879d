//! Object storage against a real S3 protocol server: `s3s-fs` serving a
//! temporary directory on 127.0.0.1 (a bucket is a directory).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use quiver_storage::{
    batch_to_parquet, parquet_to_batch, Fault, FaultyStore, ObjectStorage, RetryPolicy,
    StorageError,
};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

use crate::codec::{full_batch, full_schema};
use crate::{ok, tempdir};

const ACCESS_KEY: &str = "quiver-test-key";
const SECRET_KEY: &str = "quiver-test-secret";

/// A running in-process S3 server; stops when the test's runtime ends.
pub struct S3Server {
    pub endpoint: String,
    _root: tempfile::TempDir,
}

/// Starts s3s-fs on 127.0.0.1:0 with the given buckets already created.
pub async fn start_s3(buckets: &[&str]) -> S3Server {
    let root = tempdir();
    for b in buckets {
        std::fs::create_dir_all(root.path().join(b)).unwrap_or_else(|e| panic!("{e}"));
    }
    let fs = s3s_fs::FileSystem::new(root.path()).unwrap_or_else(|e| panic!("{e:?}"));
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build();
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr: SocketAddr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        while let Ok((socket, _)) = listener.accept().await {
            let conn = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    S3Server {
        endpoint: format!("http://{addr}"),
        _root: root,
    }
}

async fn exercise(s: &ObjectStorage) {
    ok(s.put("seg/1/data.parquet", Bytes::from_static(b"one"))
        .await);
    ok(s.put("seg/1/deletes.bin", Bytes::from_static(b"del")).await);
    ok(s.put("seg/2/data.parquet", Bytes::from_static(b"two"))
        .await);
    assert_eq!(&ok(s.get("seg/1/data.parquet").await)[..], b"one");
    assert_eq!(
        ok(s.list("seg/1/").await),
        vec!["seg/1/data.parquet", "seg/1/deletes.bin"]
    );
    assert_eq!(ok(s.list("").await).len(), 3);
    ok(s.delete("seg/1/deletes.bin").await);
    ok(s.delete("seg/1/deletes.bin").await);
    assert!(!ok(s.exists("seg/1/deletes.bin").await));
    assert!(ok(s.exists("seg/2/data.parquet").await));
    match s.get("seg/1/deletes.bin").await {
        Err(StorageError::ObjectStore(m)) => assert_eq!(m, "not found: seg/1/deletes.bin"),
        other => panic!("unexpected {other:?}"),
    }

    let schema = full_schema(32);
    let batch = full_batch(&schema, 2000);
    ok(s.put("seg/3/data.parquet", ok(batch_to_parquet(&batch)))
        .await);
    let back = ok(parquet_to_batch(
        ok(s.get("seg/3/data.parquet").await),
        None,
    ));
    assert_eq!(back, batch);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_round_trip_with_explicit_settings() {
    let server = start_s3(&["bucket"]).await;
    let s = ok(ObjectStorage::s3_with(
        "bucket",
        "quiver/data",
        &server.endpoint,
        ACCESS_KEY,
        SECRET_KEY,
    ));
    assert_eq!(s.describe(), "s3://bucket/quiver/data");
    exercise(&s).await;
    // Keys live under the prefix inside the bucket directory.
    let root = server._root.path();
    assert!(root.join("bucket/quiver/data/seg/2/data.parquet").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_configured_from_standard_variables() {
    let server = start_s3(&["envbucket"]).await;
    let vars = [
        ("AWS_ENDPOINT", server.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
        ("UNRELATED", "x"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let s = ok(ObjectStorage::s3_from_vars("envbucket", "", vars));
    assert_eq!(s.describe(), "s3://envbucket");
    exercise(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_large_objects_use_multipart() {
    let server = start_s3(&["bucket"]).await;
    let s = ok(ObjectStorage::s3_with(
        "bucket",
        "mp",
        &server.endpoint,
        ACCESS_KEY,
        SECRET_KEY,
    ))
    .with_multipart_threshold(1 << 20);
    let big: Vec<u8> = (0..40_000_000u32).map(|i| (i % 251) as u8).collect();
    let big = Bytes::from(big);
    ok(s.put("big.bin", big.clone()).await);
    let back = ok(s.get("big.bin").await);
    assert_eq!(back.len(), big.len());
    assert!(back == big);
    assert_eq!(ok(s.list("").await), vec!["big.bin"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_with_injected_faults_retries_or_fails_cleanly() {
    let server = start_s3(&["bucket"]).await;
    let mut faulty = None;
    let s = ok(ObjectStorage::s3_with(
        "bucket",
        "f",
        &server.endpoint,
        ACCESS_KEY,
        SECRET_KEY,
    ))
    .wrap_store(|inner| {
        let f = Arc::new(FaultyStore::new(inner, 3, Fault::Fail));
        faulty = Some(f.clone());
        f
    })
    .with_retry_policy(RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(5),
        attempt_timeout: Duration::from_secs(10),
    });
    let faulty = faulty.unwrap_or_else(|| panic!("not wrapped"));
    let schema = full_schema(16);
    let batch = full_batch(&schema, 500);
    for i in 0..6 {
        let key = format!("seg/{i}/data.parquet");
        ok(s.put(&key, ok(batch_to_parquet(&batch))).await);
        assert_eq!(ok(parquet_to_batch(ok(s.get(&key).await), None)), batch);
    }
    assert!(faulty.injected() >= 4);
    faulty.set_every_nth(1);
    assert!(matches!(
        s.put("seg/x", Bytes::from_static(b"x")).await,
        Err(StorageError::ObjectStore(_))
    ));
    faulty.set_enabled(false);
    assert_eq!(ok(s.list("seg/").await).len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_bad_credentials_fail_cleanly() {
    let server = start_s3(&["bucket"]).await;
    let s = ok(ObjectStorage::s3_with(
        "bucket",
        "",
        &server.endpoint,
        ACCESS_KEY,
        "wrong-secret",
    ));
    let err = s.put("k", Bytes::from_static(b"v")).await;
    match err {
        Err(StorageError::ObjectStore(m)) => eprintln!("bad credentials: {m}"),
        other => panic!("unexpected {other:?}"),
    }
}
