//! One accepted connection: handshake deadline, HTTP/2 serving, idle and kill.
//!
//! Each connection task first reads the preface under `handshake_timeout_secs`,
//! then runs hyper's HTTP/2 connection (keepalive pings, stream cap) next to an
//! idle timer. A slow body or the server's shutdown asks for a graceful close
//! (GOAWAY); a connection that does not finish draining is then dropped.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::Sleep;

use super::admit::{admit, parse_grpc_timeout, Admitted, Budget};
use super::body::{BodyDeadline, ReqBody, SlowBody};
use super::handshake::{read_preface, Prefixed};
use super::{Deadline, Handler, HttpResponse, NetLimits, PeerAddr};

/// How long a connection may drain after an idle close or a slow body.
const DRAIN_SHORT: Duration = Duration::from_secs(2);
/// How long open requests may finish when the server shuts down.
const DRAIN_SHUTDOWN: Duration = Duration::from_secs(10);
/// How long a request waits for the server to finish opening its data.
const READY_WAIT: Duration = Duration::from_secs(60);

/// What every connection shares.
pub(crate) struct Shared {
    pub limits: NetLimits,
    pub ready: watch::Receiver<Option<Handler>>,
    pub work: tokio::runtime::Handle,
    pub budget: Budget,
    /// The one request at a time that may run its handler on the I/O runtime
    /// itself (see [`InlineSlot`]).
    pub inline: AtomicBool,
}

/// Taken by the request whose handler runs where its connection is served.
///
/// Handing a request to the work runtime and its answer back costs two
/// cross-thread wake-ups, about a tenth of a 1 ms search for a client that
/// sends one request at a time (the usual RAG agent). So one request at a
/// time skips the hop; any other request arriving while it runs goes to the
/// work runtime as before. The I/O runtime has two threads, so at most one is
/// ever busy with a handler and the other keeps accepting and framing.
struct InlineSlot<'a>(&'a AtomicBool);

impl<'a> InlineSlot<'a> {
    fn take(free: &'a AtomicBool) -> Option<Self> {
        free.compare_exchange(true, false, Ordering::AcqRel, Ordering::Relaxed)
            .ok()
            .map(|_| InlineSlot(free))
    }
}

impl Drop for InlineSlot<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Request activity on one connection, for the idle timer and the kill switch.
pub struct Activity {
    born: Instant,
    inflight: AtomicUsize,
    last_ms: AtomicU64,
    killed: Notify,
}

impl Activity {
    fn new() -> Self {
        Activity {
            born: Instant::now(),
            inflight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            killed: Notify::new(),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Asks the connection to close (a body trickled past its deadline).
    pub(crate) fn kill(&self) {
        self.killed.notify_one();
    }

    /// Resolves once no request has been open for `idle`.
    async fn idle_expired(&self, idle: Option<Duration>) {
        let Some(idle) = idle else {
            return std::future::pending().await;
        };
        loop {
            let last = self.born + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let quiet = last.elapsed();
            if self.inflight.load(Ordering::Relaxed) == 0 && quiet >= idle {
                return;
            }
            let nap = if self.inflight.load(Ordering::Relaxed) > 0 {
                idle
            } else {
                idle - quiet
            };
            tokio::time::sleep(nap).await;
        }
    }
}

/// Counts a request as open until dropped.
struct OpenRequest(Arc<Activity>);

impl OpenRequest {
    fn new(a: Arc<Activity>) -> Self {
        a.inflight.fetch_add(1, Ordering::Relaxed);
        a.touch();
        OpenRequest(a)
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.0.touch();
        self.0.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one accepted socket until it closes.
pub(crate) async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let head = match shared.limits.handshake {
        Some(t) => tokio::time::timeout(t, read_preface(&mut stream)).await,
        None => Ok(read_preface(&mut stream).await),
    };
    let head = match head {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "connection closed before the HTTP/2 handshake");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "HTTP/2 handshake timed out; connection closed");
            return;
        }
    };
    let activity = Arc::new(Activity::new());
    let svc = ConnService {
        shared: shared.clone(),
        activity: activity.clone(),
        peer,
    };
    let limits = &shared.limits;
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_streams);
    if let Some(every) = limits.keepalive_interval {
        builder
            .keep_alive_interval(every)
            .keep_alive_timeout(limits.keepalive_timeout);
    }
    let conn = builder.serve_connection(TokioIo::new(Prefixed::new(head, stream)), svc);
    tokio::pin!(conn);
    let mut drain: Option<Pin<Box<Sleep>>> = None;
    loop {
        let draining = drain.is_some();
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = activity.idle_expired(limits.idle), if !draining => {
                tracing::debug!(%peer, "idle connection closed");
                conn.as_mut().graceful_shutdown();
                drain = Some(Box::pin(tokio::time::sleep(DRAIN_SHORT)));
            }
            _ = activity.killed.notified(), if !draining => {
                tracing::info!(%peer, "closing a connection whose request body arrived too slowly");
                conn.as_mut().graceful_shutdown();
                drain = Some(Box::pin(tokio::time::sleep(DRAIN_SHORT)));
            }
            _ = stop.changed(), if !draining => {
                conn.as_mut().graceful_shutdown();
                drain = Some(Box::pin(tokio::time::sleep(DRAIN_SHUTDOWN)));
            }
            _ = async {
                match drain.as_mut() {
                    Some(d) => d.as_mut().await,
                    None => std::future::pending().await,
                }
            } => return,
        }
    }
}

/// The hyper service of one connection.
struct ConnService {
    shared: Arc<Shared>,
    activity: Arc<Activity>,
    peer: SocketAddr,
}

impl hyper::service::Service<http::Request<Incoming>> for ConnService {
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<HttpResponse, Infallible>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let open = OpenRequest::new(self.activity.clone());
        let shared = self.shared.clone();
        let peer = self.peer;
        Box::pin(async move {
            let resp = handle(&shared, &open.0, peer, req).await;
            drop(open);
            Ok(resp)
        })
    }
}

/// Readiness, admission, then the handler on the work runtime.
async fn handle(
    shared: &Shared,
    activity: &Arc<Activity>,
    peer: SocketAddr,
    req: http::Request<Incoming>,
) -> HttpResponse {
    let arrived = Instant::now();
    let Some(handler) = ready(shared).await else {
        return tonic::Status::unavailable("server is still opening its data").into_http();
    };
    let (mut parts, body) = req.into_parts();
    let deadline = parts
        .headers
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
        .and_then(|d| arrived.checked_add(d));
    let rule = BodyDeadline {
        grace: shared.limits.body_grace,
        min_rate: shared.limits.min_body_rate,
    };
    let body = SlowBody::new(body, rule, activity.clone());
    let limits = &shared.limits;
    let admitted = admit(
        body,
        &shared.budget,
        limits.max_message_bytes,
        limits.inflight_wait,
    )
    .await;
    let (body, permit) = match admitted {
        Ok(Admitted::Go(body, permit)) => (body, permit),
        Ok(Admitted::Refused(r)) => {
            parts.extensions.insert(r);
            (ReqBody::empty_message(), None)
        }
        Err(e) => return tonic::Status::cancelled(e.to_string()).into_http(),
    };
    parts.extensions.insert(PeerAddr(peer));
    if let Some(d) = deadline {
        parts.extensions.insert(Deadline(d));
    }
    let req = http::Request::from_parts(parts, body);
    // The permit moves with the work: a client that hangs up does not free
    // the budget before the handler has finished with the request's memory.
    let work = async move {
        let resp = handler(req).await;
        drop(permit);
        resp
    };
    if let Some(_slot) = InlineSlot::take(&shared.inline) {
        // A handler bug answers this request with an error, as on the work
        // runtime, instead of taking the connection down.
        return match AssertUnwindSafe(work).catch_unwind().await {
            Ok(resp) => resp,
            Err(_) => tonic::Status::internal("request task failed: handler panicked").into_http(),
        };
    }
    match shared.work.spawn(work).await {
        Ok(resp) => resp,
        Err(e) => tonic::Status::internal(format!("request task failed: {e}")).into_http(),
    }
}

async fn ready(shared: &Shared) -> Option<Handler> {
    let mut rx = shared.ready.clone();
    if let Some(h) = rx.borrow().clone() {
        return Some(h);
    }
    let waited = tokio::time::timeout(READY_WAIT, rx.wait_for(|h| h.is_some())).await;
    match waited {
        Ok(Ok(h)) => (*h).clone(),
        _ => None,
    }
}
