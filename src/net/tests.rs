//! Connection-layer tests over real loopback sockets and a real HTTP/2 client.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use super::*;

fn limits() -> NetLimits {
    NetLimits::from_config(&Limits::default())
}

/// A handler that reads the whole body, holds the request, then answers
/// 200 (500 if the body failed), with `x-refused` when admission refused it.
fn handler(hold: Duration) -> Handler {
    Arc::new(move |req: http::Request<ReqBody>| {
        Box::pin(async move {
            let refused = req.extensions().get::<Refusal>().is_some();
            let body = req.into_body().collect().await;
            tokio::time::sleep(hold).await;
            let mut resp = http::Response::new(tonic::body::Body::default());
            if body.is_err() {
                *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            }
            if refused {
                resp.headers_mut()
                    .insert("x-refused", http::HeaderValue::from_static("1"));
            }
            resp
        })
    })
}

async fn start(limits: NetLimits, h: Handler) -> (SocketAddr, oneshot::Sender<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let (_tx, rx) = watch::channel(Some(h));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let work = tokio::runtime::Handle::current();
    tokio::spawn(serve(l, rx, limits, work, async move {
        let _ = stop_rx.await;
    }));
    (addr, stop_tx)
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Sends the preface; true if the server answers (its SETTINGS), false if it
/// closes the socket instead.
async fn handshake_answered(s: &mut TcpStream) -> bool {
    if s.write_all(PREFACE).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await,
        Ok(Ok(n)) if n > 0
    )
}

/// Whether the server closed `s` within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    let until = Instant::now() + within;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

type Sender = hyper::client::conn::http2::SendRequest<
    http_body_util::combinators::BoxBody<Bytes, Infallible>,
>;

/// An HTTP/2 client connection; the handle resolves when the server closes it.
async fn client(addr: SocketAddr) -> (Sender, tokio::task::JoinHandle<()>) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("h2 handshake");
    let done = tokio::spawn(async move {
        let _ = conn.await;
    });
    (sender, done)
}

fn grpc_request(
    body: http_body_util::combinators::BoxBody<Bytes, Infallible>,
) -> http::Request<http_body_util::combinators::BoxBody<Bytes, Infallible>> {
    http::Request::builder()
        .method("POST")
        .uri("http://localhost/milvus.proto.milvus.MilvusService/Insert")
        .header("content-type", "application/grpc")
        .body(body)
        .expect("request")
}

/// A gRPC message prefix declaring `len` bytes, followed by `have` of them.
fn message(len: u32, have: usize) -> Bytes {
    let mut v = vec![0u8];
    v.extend_from_slice(&len.to_be_bytes());
    v.resize(5 + have, 7);
    Bytes::from(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_are_closed_after_the_handshake_timeout() {
    let mut l = limits();
    l.handshake = Some(Duration::from_millis(300));
    let (addr, _stop) = start(l, handler(Duration::ZERO)).await;
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let t0 = Instant::now();
    for s in &mut silent {
        assert!(
            closed_within(s, Duration::from_secs(3)).await,
            "silent socket left open"
        );
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(200),
        "closed before the timeout"
    );
    // A real client meanwhile is served.
    let (mut sender, _done) = client(addr).await;
    let resp = sender
        .send_request(grpc_request(Full::new(message(3, 3)).boxed()))
        .await
        .expect("response");
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_refused_and_released_on_close() {
    let mut l = limits();
    l.max_connections = Some(2);
    let (addr, _stop) = start(l, handler(Duration::ZERO)).await;
    let mut a = TcpStream::connect(addr).await.expect("a");
    let mut b = TcpStream::connect(addr).await.expect("b");
    assert!(handshake_answered(&mut a).await);
    assert!(handshake_answered(&mut b).await);
    let mut c = TcpStream::connect(addr).await.expect("c");
    assert!(
        !handshake_answered(&mut c).await,
        "third connection accepted"
    );
    drop(a);
    let until = Instant::now() + Duration::from_secs(3);
    loop {
        let mut d = TcpStream::connect(addr).await.expect("d");
        if handshake_answered(&mut d).await {
            break;
        }
        assert!(Instant::now() < until, "slot not released after close");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_cut_off_and_its_connection_closed() {
    let mut l = limits();
    l.body_grace = Some(Duration::from_millis(500));
    l.min_body_rate = 1000;
    let (addr, _stop) = start(l, handler(Duration::ZERO)).await;
    let (mut sender, done) = client(addr).await;
    // One byte every 100 ms: 10 B/s against a floor of 1000 B/s.
    let first = futures::stream::once(async { Ok::<_, Infallible>(Frame::data(message(1000, 0))) });
    let drip = futures::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"x"))),
            (),
        ))
    });
    let body = StreamBody::new(futures::StreamExt::chain(first, drip)).boxed();
    let t0 = Instant::now();
    let resp = sender.send_request(grpc_request(body)).await;
    if let Ok(r) = &resp {
        assert_ne!(r.status(), 200, "a trickling body was accepted");
    }
    tokio::time::timeout(Duration::from_secs(5), done)
        .await
        .expect("connection not closed")
        .expect("join");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_budget_refuses_a_second_large_request() {
    let mut l = limits();
    l.max_inflight_bytes = 200 << 10;
    l.inflight_wait = Duration::from_millis(100);
    let (addr, _stop) = start(l, handler(Duration::from_millis(800))).await;
    let (sender, _done) = client(addr).await;
    let big = || grpc_request(Full::new(message(150 << 10, 150 << 10)).boxed());
    let mut s1 = sender.clone();
    let first = tokio::spawn(async move { s1.send_request(big()).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut s2 = sender.clone();
    let second = s2.send_request(big()).await.expect("second");
    assert!(
        second.headers().contains_key("x-refused"),
        "budget not enforced"
    );
    let first = first.await.expect("join").expect("first");
    assert!(!first.headers().contains_key("x-refused"));
    // Small requests are never made to wait.
    let mut s3 = sender.clone();
    let small = s3
        .send_request(grpc_request(Full::new(message(10, 10)).boxed()))
        .await
        .expect("small");
    assert!(!small.headers().contains_key("x-refused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_messages_are_refused_before_decoding() {
    let mut l = limits();
    l.max_message_bytes = 1000;
    let (addr, _stop) = start(l, handler(Duration::ZERO)).await;
    let (mut sender, _done) = client(addr).await;
    let resp = sender
        .send_request(grpc_request(Full::new(message(5000, 100)).boxed()))
        .await
        .expect("response");
    assert!(resp.headers().contains_key("x-refused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let mut l = limits();
    l.idle = Some(Duration::from_millis(300));
    let (addr, _stop) = start(l, handler(Duration::ZERO)).await;
    let (mut sender, done) = client(addr).await;
    let t0 = Instant::now();
    let resp = sender
        .send_request(grpc_request(Full::new(message(1, 1)).boxed()))
        .await
        .expect("response");
    assert_eq!(resp.status(), 200);
    tokio::time::timeout(Duration::from_secs(4), done)
        .await
        .expect("idle connection not closed")
        .expect("join");
    assert!(t0.elapsed() >= Duration::from_millis(250));
}
