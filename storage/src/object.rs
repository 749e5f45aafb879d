//! Object storage for sealed segments: local disk, memory, or S3/MinIO.
//!
//! Sealed segment files (Parquet, index, delete bitmaps) are immutable blobs
//! addressed by key. [`ObjectStorage`] hides which `object_store` backend holds
//! them, roots every key under an optional prefix, retries transient failures
//! with backoff and a per-attempt timeout, and maps errors to
//! [`StorageError::ObjectStore`]. On the local file system a put is written to
//! a temporary file, fsync'd and renamed, so a segment recorded in the
//! manifest survives a power cut (the WAL before it may already be gone).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjPath;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};

use crate::error::{Result, StorageError};

/// How [`ObjectStorage`] retries a failing request.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total tries per operation (at least 1).
    pub attempts: u32,
    /// Sleep before the first retry; multiplied by 4 for each further retry.
    pub backoff: Duration,
    /// Limit on one attempt; a slower attempt counts as a transient failure.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(100),
            attempt_timeout: Duration::from_secs(600),
        }
    }
}

/// Handle to the configured object store; cheap to clone.
#[derive(Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    /// Key prefix without leading or trailing '/', possibly empty.
    prefix: String,
    /// Set for the local file system: puts go through [`durable_local_put`].
    local_root: Option<PathBuf>,
    description: String,
    retry: RetryPolicy,
    /// Remote puts larger than this go up as multipart uploads.
    multipart_threshold: usize,
}

/// Default size above which remote puts use multipart uploads.
pub const MULTIPART_THRESHOLD: usize = 64 << 20;
/// Part size of multipart uploads (S3 wants at least 5 MiB but the last).
const PART_BYTES: usize = 16 << 20;
/// Parts in flight at once.
const PART_CONCURRENCY: usize = 4;

impl std::fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("location", &self.description)
            .finish()
    }
}

/// Marker in names of in-flight local temporary files; never listed.
const TMP_MARK: char = '#';

fn config(msg: impl Into<String>) -> StorageError {
    StorageError::Config(msg.into())
}

/// Request options for S3: per-request timeouts generous enough for a large
/// segment, few client-level retries (this layer retries too). Applied first:
/// `with_client_options` replaces settings such as `allow_http`.
fn s3_tuning(builder: AmazonS3Builder) -> AmazonS3Builder {
    builder
        .with_client_options(
            ClientOptions::new()
                .with_timeout(Duration::from_secs(300))
                .with_connect_timeout(Duration::from_secs(10)),
        )
        .with_retry(RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(60),
            ..RetryConfig::default()
        })
}

impl ObjectStorage {
    /// Opens the store named by `uri`:
    /// `""`/`"file"` → `<data_dir>/objects`; `file:///abs/dir` → that directory;
    /// `memory://` → in memory; `s3://bucket[/prefix]` → S3 configured from the
    /// standard `AWS_*` variables, path-style, HTTP allowed when
    /// `AWS_ALLOW_HTTP=true` or the endpoint is `http://`, region `us-east-1`
    /// unless set.
    pub fn from_uri(uri: &str, data_dir: &Path) -> Result<ObjectStorage> {
        let uri = uri.trim();
        if uri.is_empty() || uri == "file" {
            return Self::local(&data_dir.join("objects"));
        }
        if let Some(path) = uri.strip_prefix("file://") {
            let path = Path::new(path);
            if !path.is_absolute() {
                return Err(config(format!("{uri}: file:// needs an absolute path")));
            }
            return Self::local(path);
        }
        if uri == "memory://" || uri == "memory" {
            return Ok(Self::from_store(Arc::new(InMemory::new()), "", "memory://"));
        }
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            return Self::s3_from_vars(bucket, prefix, std::env::vars());
        }
        Err(config(format!(
            "unsupported storage uri {uri:?} (use file:///dir, memory:// or s3://bucket/prefix)"
        )))
    }

    /// An S3 store configured from `AWS_*` variables given as (name, value)
    /// pairs, the way [`ObjectStorage::from_uri`] reads the environment:
    /// path-style requests, HTTP allowed when `AWS_ALLOW_HTTP=true` or the
    /// endpoint (`AWS_ENDPOINT` or `AWS_ENDPOINT_URL`) is `http://`, region
    /// `us-east-1` unless `AWS_REGION`/`AWS_DEFAULT_REGION` is set.
    pub fn s3_from_vars(
        bucket: &str,
        prefix: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ObjectStorage> {
        if bucket.is_empty() {
            return Err(config("s3:// uri is missing the bucket"));
        }
        let vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(k, v)| k.starts_with("AWS_") && !v.is_empty())
            .collect();
        let mut builder = s3_tuning(AmazonS3Builder::new());
        for (k, v) in &vars {
            if let Ok(key) = k.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(key, v);
            }
        }
        let endpoint = vars
            .get("AWS_ENDPOINT")
            .or_else(|| vars.get("AWS_ENDPOINT_URL"));
        let allow_http = vars
            .get("AWS_ALLOW_HTTP")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || endpoint.is_some_and(|e| e.starts_with("http://"));
        builder = builder.with_bucket_name(bucket).with_allow_http(allow_http);
        if let Some(endpoint) = endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if !vars.contains_key("AWS_REGION") && !vars.contains_key("AWS_DEFAULT_REGION") {
            builder = builder.with_region("us-east-1");
        }
        Self::build_s3(builder, bucket, prefix)
    }

    /// An S3 store with explicit settings, independent of process environment
    /// (tests, or callers with their own configuration source).
    pub fn s3_with(
        bucket: &str,
        prefix: &str,
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
    ) -> Result<ObjectStorage> {
        let builder = s3_tuning(AmazonS3Builder::new())
            .with_bucket_name(bucket)
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_access_key_id(access_key)
            .with_secret_access_key(secret_key)
            .with_region("us-east-1");
        Self::build_s3(builder, bucket, prefix)
    }

    fn build_s3(builder: AmazonS3Builder, bucket: &str, prefix: &str) -> Result<ObjectStorage> {
        let store = builder
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(|e| config(format!("s3://{bucket}: {e}")))?;
        let prefix = prefix.trim_matches('/');
        let description = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        Ok(Self::from_store(Arc::new(store), prefix, description))
    }

    /// A store on the local file system rooted at `root` (created).
    pub fn local(root: &Path) -> Result<ObjectStorage> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let fs = LocalFileSystem::new_with_prefix(&root)
            .map_err(|e| config(format!("{}: {e}", root.display())))?;
        let mut s = Self::from_store(Arc::new(fs), "", format!("file://{}", root.display()));
        s.local_root = Some(root);
        Ok(s)
    }

    /// Wraps any `object_store` backend (fault injection in tests, other clouds).
    pub fn from_store(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        description: impl Into<String>,
    ) -> ObjectStorage {
        ObjectStorage {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            local_root: None,
            description: description.into(),
            retry: RetryPolicy::default(),
            multipart_threshold: MULTIPART_THRESHOLD,
        }
    }

    /// Wraps the backend (e.g. in a fault injector) keeping prefix and
    /// description. Local puts then go through the wrapped `object_store`
    /// too (atomic rename, but no fsync), so faults reach every request.
    pub fn wrap_store(
        mut self,
        wrap: impl FnOnce(Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore>,
    ) -> ObjectStorage {
        self.store = wrap(self.store);
        self.local_root = None;
        self.description = format!("{} (wrapped)", self.description);
        self
    }

    /// Replaces the retry policy.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> ObjectStorage {
        self.retry = retry;
        self
    }

    /// Changes the size above which remote puts use multipart uploads.
    pub fn with_multipart_threshold(mut self, bytes: usize) -> ObjectStorage {
        self.multipart_threshold = bytes;
        self
    }

    /// Where objects live, for the start-up log line.
    pub fn describe(&self) -> String {
        self.description.clone()
    }

    /// The backend-relative path of `key`, validated.
    fn path(&self, key: &str) -> Result<ObjPath> {
        if key.is_empty() || key.contains(TMP_MARK) {
            return Err(config(format!("invalid object key {key:?}")));
        }
        let full = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        };
        ObjPath::parse(&full).map_err(|e| config(format!("invalid object key {key:?}: {e}")))
    }

    /// Runs `f` up to `attempts` times, retrying transient errors and timeouts.
    async fn retrying<T, F, Fut>(&self, op: &str, key: &str, mut f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = object_store::Result<T>>,
    {
        let attempts = self.retry.attempts.max(1);
        let mut delay = self.retry.backoff;
        let mut attempt = 1;
        loop {
            let err = match tokio::time::timeout(self.retry.attempt_timeout, f()).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(object_store::Error::NotFound { .. })) => {
                    return Err(StorageError::ObjectStore(format!("not found: {key}")));
                }
                Ok(Err(e)) if !is_transient(&e) => {
                    return Err(StorageError::ObjectStore(format!("{op} {key}: {e}")));
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("timed out after {:?}", self.retry.attempt_timeout),
            };
            if attempt >= attempts {
                return Err(StorageError::ObjectStore(format!(
                    "{op} {key} failed after {attempts} attempts: {err}"
                )));
            }
            tracing::warn!(
                op,
                key,
                attempt,
                "object store request failed, retrying: {err}"
            );
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(4);
            attempt += 1;
        }
    }

    /// Stores `bytes` under `key`, replacing any previous object.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        let path = self.path(key)?;
        if let Some(root) = &self.local_root {
            let target = root.join(key);
            return self
                .retrying("put", key, || {
                    durable_local_put(target.clone(), bytes.clone())
                })
                .await;
        }
        let store = &self.store;
        if bytes.len() > self.multipart_threshold {
            return self
                .retrying("put", key, || {
                    multipart_put(store.as_ref(), &path, bytes.clone())
                })
                .await;
        }
        self.retrying("put", key, || async {
            store
                .put(&path, PutPayload::from_bytes(bytes.clone()))
                .await
                .map(|_| ())
        })
        .await
    }

    /// The object under `key`; a missing key is `ObjectStore("not found: key")`.
    pub async fn get(&self, key: &str) -> Result<Bytes> {
        let path = self.path(key)?;
        let store = &self.store;
        self.retrying("get", key, || async {
            store.get(&path).await?.bytes().await
        })
        .await
    }

    /// True when an object exists under `key`.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        let path = self.path(key)?;
        let store = &self.store;
        match self.retrying("head", key, || store.head(&path)).await {
            Ok(_) => Ok(true),
            Err(StorageError::ObjectStore(m)) if m.starts_with("not found: ") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes `key`; removing a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        let store = &self.store;
        match self.retrying("delete", key, || store.delete(&path)).await {
            Err(StorageError::ObjectStore(m)) if m.starts_with("not found: ") => Ok(()),
            other => other,
        }
    }

    /// Keys (relative to this store's prefix) starting with `prefix`, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        // object_store lists whole path segments; list the enclosing
        // directory and filter by the string prefix.
        let dir = prefix.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let dir = dir.trim_matches('/');
        let full_dir = match (self.prefix.is_empty(), dir.is_empty()) {
            (true, true) => None,
            (true, false) => Some(dir.to_string()),
            (false, true) => Some(self.prefix.clone()),
            (false, false) => Some(format!("{}/{dir}", self.prefix)),
        };
        let full_dir = full_dir
            .map(|d| {
                ObjPath::parse(&d).map_err(|e| config(format!("invalid prefix {prefix:?}: {e}")))
            })
            .transpose()?;
        let store = &self.store;
        let metas: Vec<object_store::ObjectMeta> = self
            .retrying("list", prefix, || {
                store.list(full_dir.as_ref()).try_collect()
            })
            .await?;
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut keys: Vec<String> = metas
            .into_iter()
            .filter_map(|m| {
                let loc = m.location.as_ref();
                let key = loc.strip_prefix(strip.as_str())?;
                (key.starts_with(prefix) && !key.contains(TMP_MARK)).then(|| key.to_string())
            })
            .collect();
        keys.sort();
        Ok(keys)
    }
}

/// Errors worth retrying: anything but a definite answer from the store.
fn is_transient(e: &object_store::Error) -> bool {
    use object_store::Error as E;
    !matches!(
        e,
        E::NotFound { .. }
            | E::InvalidPath { .. }
            | E::NotSupported { .. }
            | E::AlreadyExists { .. }
            | E::Precondition { .. }
            | E::NotModified { .. }
            | E::NotImplemented { .. }
            | E::PermissionDenied { .. }
            | E::Unauthenticated { .. }
            | E::UnknownConfigurationKey { .. }
    )
}

/// Uploads `bytes` in parts of [`PART_BYTES`], a few at a time; a failed
/// upload is aborted (best effort) so no parts linger.
async fn multipart_put(
    store: &dyn ObjectStore,
    path: &ObjPath,
    bytes: Bytes,
) -> object_store::Result<()> {
    let upload = store.put_multipart(path).await?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut rest = bytes;
    while !rest.is_empty() {
        if let Err(e) = writer.wait_for_capacity(PART_CONCURRENCY).await {
            let _ = writer.abort().await;
            return Err(e);
        }
        let n = rest.len().min(PART_BYTES);
        writer.put(rest.split_to(n));
    }
    writer.finish().await.map(|_| ())
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `target` via a synced temporary file and an atomic
/// rename, then syncs the directory, so the object is durable on return.
async fn durable_local_put(target: PathBuf, bytes: Bytes) -> object_store::Result<()> {
    let io = |e: std::io::Error| object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(e),
    };
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        let dir = target
            .parent()
            .ok_or_else(|| std::io::Error::other("object path has no parent"))?;
        std::fs::create_dir_all(dir)?;
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = target.file_name().unwrap_or_default().to_os_string();
        name.push(format!("{TMP_MARK}tmp.{}.{n}", std::process::id()));
        let tmp = dir.join(name);
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &target)?;
            std::fs::File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    })
    .await
    .map_err(|e| object_store::Error::JoinError { source: e })?
    .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<T>(r: Result<T>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn exercise(s: &ObjectStorage) {
        ok(s.put("segments/1/data.parquet", Bytes::from_static(b"one"))
            .await);
        ok(s.put("segments/1/index.bin", Bytes::from_static(b"idx"))
            .await);
        ok(
            s.put("segments/12/data.parquet", Bytes::from_static(b"twelve"))
                .await,
        );
        ok(s.put("other", Bytes::from_static(b"o")).await);
        assert_eq!(&ok(s.get("segments/1/data.parquet").await)[..], b"one");
        // Overwrite.
        ok(s.put("other", Bytes::from_static(b"o2")).await);
        assert_eq!(&ok(s.get("other").await)[..], b"o2");
        assert_eq!(
            ok(s.list("segments/1/").await),
            vec!["segments/1/data.parquet", "segments/1/index.bin"]
        );
        assert_eq!(ok(s.list("segments/1").await).len(), 3);
        assert_eq!(ok(s.list("").await).len(), 4);
        assert!(ok(s.exists("other").await));
        ok(s.delete("segments/1/index.bin").await);
        ok(s.delete("segments/1/index.bin").await);
        assert!(!ok(s.exists("segments/1/index.bin").await));
        match s.get("segments/1/index.bin").await {
            Err(StorageError::ObjectStore(m)) => assert_eq!(m, "not found: segments/1/index.bin"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(s.put("bad/../key", Bytes::new()).await.is_err());
        assert!(s.put("a#b", Bytes::new()).await.is_err());
    }

    #[tokio::test]
    async fn local_file_system() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = ok(ObjectStorage::from_uri("", tmp.path()));
        assert!(s.describe().starts_with("file:///"));
        assert!(s.describe().ends_with("/objects"));
        exercise(&s).await;
        assert!(tmp.path().join("objects/segments/12/data.parquet").exists());
        let again = ok(ObjectStorage::from_uri(
            &format!("file://{}", tmp.path().join("objects").display()),
            Path::new("/nonexistent"),
        ));
        assert_eq!(&ok(again.get("other").await)[..], b"o2");
    }

    #[tokio::test]
    async fn memory_store() {
        let s = ok(ObjectStorage::from_uri("memory://", Path::new("/unused")));
        assert_eq!(s.describe(), "memory://");
        exercise(&s).await;
    }

    #[tokio::test]
    async fn prefixed_store_hides_prefix() {
        let s = ObjectStorage::from_store(Arc::new(InMemory::new()), "/a/b/", "memory://a/b");
        exercise(&s).await;
    }

    #[test]
    fn bad_uris_are_config_errors() {
        for uri in ["ftp://x", "file://relative", "s3://"] {
            assert!(matches!(
                ObjectStorage::from_uri(uri, Path::new("/tmp")),
                Err(StorageError::Config(_))
            ));
        }
    }

    #[test]
    fn s3_uri_builds_without_network() {
        let s = ok(ObjectStorage::s3_with(
            "bucket",
            "pre/fix/",
            "http://127.0.0.1:9",
            "k",
            "s",
        ));
        assert_eq!(s.describe(), "s3://bucket/pre/fix");
    }
}
