//! A fault-injecting `ObjectStore` wrapper for tests.
//!
//! Always compiled (it is small): a `testing` feature would give the test
//! build a second feature set of this crate, and with it a second build of
//! everything above it.
//!
//! Crash-safety and retry behaviour can only be shown against a store that
//! misbehaves. [`FaultyStore`] wraps any backend and makes every Nth request
//! fail with a transient error or stall for a while, so tests (and the
//! server's crash harness) can check that writes retry, or fail with a clean
//! error, and that nothing acknowledged is lost.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// What happens to a request chosen for a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request fails with a transient (retryable) error, untouched backend.
    Fail,
    /// The request is held this long before it reaches the backend.
    Delay(Duration),
}

/// Wraps a store and injects `fault` into every `every_nth` request (the
/// N-th, 2N-th, … counting from 1); `every_nth == 0` disables faults.
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    every_nth: AtomicU64,
    fault: Fault,
    requests: AtomicU64,
    injected: AtomicU64,
    enabled: AtomicBool,
}

impl FaultyStore {
    /// A wrapper around `inner` faulting every `every_nth` request.
    pub fn new(inner: Arc<dyn ObjectStore>, every_nth: u64, fault: Fault) -> Self {
        FaultyStore {
            inner,
            every_nth: AtomicU64::new(every_nth),
            fault,
            requests: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            enabled: AtomicBool::new(true),
        }
    }

    /// Changes how often faults happen (0 = never).
    pub fn set_every_nth(&self, n: u64) {
        self.every_nth.store(n, Ordering::SeqCst);
    }

    /// Turns fault injection on or off without resetting counters.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    /// Requests seen so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Requests that had a fault injected.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    /// Counts a request and decides whether it gets the fault.
    fn next_fault(&self) -> Option<Fault> {
        let k = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let n = self.every_nth.load(Ordering::SeqCst);
        if !self.enabled.load(Ordering::SeqCst) || n == 0 || !k.is_multiple_of(n) {
            return None;
        }
        self.injected.fetch_add(1, Ordering::SeqCst);
        Some(self.fault)
    }

    /// Applies the fault (if any) to an async request.
    async fn gate(&self, op: &str) -> object_store::Result<()> {
        match self.next_fault() {
            None => Ok(()),
            Some(Fault::Fail) => Err(injected_error(op)),
            Some(Fault::Delay(d)) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
        }
    }

    /// Applies the fault (if any) to a streaming request.
    fn gate_stream<T: Send + 'static>(
        &self,
        op: &'static str,
        inner: BoxStream<'static, object_store::Result<T>>,
    ) -> BoxStream<'static, object_store::Result<T>> {
        match self.next_fault() {
            None => inner,
            Some(Fault::Fail) => stream::once(async move { Err(injected_error(op)) }).boxed(),
            Some(Fault::Delay(d)) => stream::once(tokio::time::sleep(d))
                .flat_map(move |()| stream::empty())
                .chain(inner)
                .boxed(),
        }
    }
}

fn injected_error(op: &str) -> object_store::Error {
    object_store::Error::Generic {
        store: "FaultyStore",
        source: format!("injected fault in {op}").into(),
    }
}

impl fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyStore")
            .field("inner", &self.inner.to_string())
            .field("fault", &self.fault)
            .field("requests", &self.requests())
            .field("injected", &self.injected())
            .finish()
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.gate("put").await?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.gate("put_multipart").await?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.gate("get").await?;
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.gate("get_ranges").await?;
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let inner = self.inner.delete_stream(locations);
        self.gate_stream("delete", inner)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let inner = self.inner.list(prefix);
        self.gate_stream("list", inner)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.gate("list_with_delimiter").await?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.gate("copy").await?;
        self.inner.copy_opts(from, to, options).await
    }
}
