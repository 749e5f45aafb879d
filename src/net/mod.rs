//! The connection layer in front of the gRPC service.
//!
//! tonic's built-in server has no handshake deadline, idle timeout, connection
//! cap, slow-body cut-off or memory budget, so Quiver runs its own accept loop
//! over hyper's HTTP/2 server:
//! * [`handshake`]: the preface must arrive within `handshake_timeout_secs`;
//! * [`conn`]: keepalive pings, a stream cap and an idle timer per connection;
//! * [`body`]: request bodies that trickle are cut off and their connection closed;
//! * [`admit`]: request bytes in flight are bounded by `max_inflight_bytes`.
//!
//! Accepting and the HTTP/2 framing run on the runtime that calls [`serve`]
//! (the I/O runtime, two threads); handlers run on the work runtime, so
//! recovery, compaction or a burst of heavy requests cannot stop new clients
//! from connecting. The one exception is a single request at a time whose
//! handler runs where it arrived, sparing a lone client the two cross-thread
//! wake-ups of the hop (`conn::InlineSlot`); it occupies at most one of the
//! I/O threads.

mod admit;
mod body;
mod conn;
mod handshake;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::config::Limits;

pub use admit::Refusal;
pub use body::ReqBody;

/// A response as the gRPC service produces it.
pub type HttpResponse = http::Response<tonic::body::Body>;

/// The gRPC service, type-erased: one request in, one response out.
pub type Handler =
    Arc<dyn Fn(http::Request<ReqBody>) -> BoxFuture<'static, HttpResponse> + Send + Sync>;

/// When the client stops waiting (from `grpc-timeout`), as a request extension.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

/// The client's address, as a request extension (auth back-off is per address).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The `[limits]` keys this layer enforces, as durations.
#[derive(Debug, Clone)]
pub struct NetLimits {
    pub handshake: Option<Duration>,
    pub idle: Option<Duration>,
    pub keepalive_interval: Option<Duration>,
    pub keepalive_timeout: Duration,
    pub max_connections: Option<usize>,
    pub max_streams: u32,
    pub body_grace: Option<Duration>,
    pub min_body_rate: u64,
    pub max_message_bytes: usize,
    pub max_inflight_bytes: usize,
    pub inflight_wait: Duration,
}

fn secs(n: u64) -> Option<Duration> {
    (n > 0).then(|| Duration::from_secs(n))
}

impl NetLimits {
    /// Reads the limits; 0 disables a timeout or cap.
    pub fn from_config(l: &Limits) -> Self {
        NetLimits {
            handshake: secs(l.handshake_timeout_secs),
            idle: secs(l.idle_timeout_secs),
            keepalive_interval: secs(l.keepalive_interval_secs),
            keepalive_timeout: Duration::from_secs(l.keepalive_timeout_secs.max(1)),
            max_connections: (l.max_connections > 0).then_some(l.max_connections),
            max_streams: l.max_streams_per_connection.max(1),
            body_grace: secs(l.request_body_timeout_secs),
            min_body_rate: l.min_request_bytes_per_sec,
            max_message_bytes: l.max_message_bytes,
            max_inflight_bytes: l.max_inflight_bytes,
            inflight_wait: Duration::from_secs(l.inflight_wait_secs),
        }
    }
}

/// Accepts connections until `shutdown` resolves, then drains them.
///
/// `ready` holds the service once the server has opened its data; requests
/// that arrive before wait for it (connections are accepted at once).
pub async fn serve(
    listener: TcpListener,
    ready: watch::Receiver<Option<Handler>>,
    limits: NetLimits,
    work: tokio::runtime::Handle,
    shutdown: impl Future<Output = ()>,
) {
    let cap = limits.max_connections.map(|n| Arc::new(Semaphore::new(n)));
    let shared = Arc::new(conn::Shared {
        budget: admit::Budget::new(limits.max_inflight_bytes),
        limits,
        ready,
        work,
        inline: std::sync::atomic::AtomicBool::new(true),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let open = Arc::new(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let permit = match &cap {
            Some(sem) => match sem.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    tracing::debug!(%peer, "max_connections reached; connection refused");
                    drop(stream);
                    continue;
                }
            },
            None => None,
        };
        // Nagle's algorithm would hold small responses back for up to ~40 ms.
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let stop = stop_rx.clone();
        let token = open.clone();
        tokio::spawn(async move {
            conn::serve(stream, peer, shared, stop).await;
            drop(permit);
            drop(token);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let until = Instant::now() + Duration::from_secs(12);
    while Arc::strong_count(&open) > 1 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
