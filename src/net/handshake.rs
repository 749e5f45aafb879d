//! The HTTP/2 connection preface, read under a deadline before hyper sees the socket.
//!
//! hyper has no handshake timeout: a client that opens TCP and never sends the
//! preface would hold a connection slot (and a task) forever. Reading the
//! 24-byte magic and the client's first SETTINGS frame ourselves lets the
//! accept loop bound that with a plain `tokio::time::timeout`; the bytes read
//! are then replayed to hyper through [`Prefixed`]. Only prior-knowledge h2c
//! (what gRPC clients speak) is accepted.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The client connection preface (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Frame header length and the SETTINGS frame type.
const FRAME_HEADER: usize = 9;
const SETTINGS: u8 = 0x4;
/// SETTINGS must fit the default maximum frame size before any are exchanged.
const MAX_SETTINGS_LEN: usize = 16_384;

/// Reads the preface and the first SETTINGS frame; returns every byte read.
pub(crate) async fn read_preface<R: AsyncRead + Unpin>(io: &mut R) -> io::Result<Bytes> {
    let mut buf = vec![0u8; PREFACE.len() + FRAME_HEADER];
    io.read_exact(&mut buf).await?;
    if &buf[..PREFACE.len()] != PREFACE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not an HTTP/2 (gRPC) connection preface",
        ));
    }
    let h = &buf[PREFACE.len()..];
    let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
    if h[3] != SETTINGS || len > MAX_SETTINGS_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the preface is not followed by a SETTINGS frame",
        ));
    }
    let start = buf.len();
    buf.resize(start + len, 0);
    io.read_exact(&mut buf[start..]).await?;
    Ok(Bytes::from(buf))
}

/// A stream that first yields bytes already read from it.
pub(crate) struct Prefixed<T> {
    prefix: Bytes,
    io: T,
}

impl<T> Prefixed<T> {
    pub(crate) fn new(prefix: Bytes, io: T) -> Self {
        Prefixed { prefix, io }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_frame(payload: &[u8]) -> Vec<u8> {
        let n = payload.len();
        let mut f = vec![
            (n >> 16) as u8,
            (n >> 8) as u8,
            n as u8,
            SETTINGS,
            0,
            0,
            0,
            0,
            0,
        ];
        f.extend_from_slice(payload);
        f
    }

    #[tokio::test]
    async fn reads_preface_and_replays_it() {
        let mut wire = PREFACE.to_vec();
        wire.extend(settings_frame(&[0, 3, 0, 0, 0, 100]));
        wire.extend_from_slice(b"rest");
        let mut src: &[u8] = &wire;
        let head = read_preface(&mut src).await.expect("valid preface");
        assert_eq!(head.len(), 24 + 9 + 6);
        let mut replay = Prefixed::new(head, src);
        let mut all = Vec::new();
        replay.read_to_end(&mut all).await.expect("read");
        assert_eq!(all, wire);
    }

    #[tokio::test]
    async fn rejects_http1_and_missing_settings() {
        let mut http1: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n.......";
        assert!(read_preface(&mut http1).await.is_err());
        let mut wire = PREFACE.to_vec();
        wire.extend([0, 0, 0, 0x1, 0, 0, 0, 0, 1]); // HEADERS first
        let mut src: &[u8] = &wire;
        assert!(read_preface(&mut src).await.is_err());
        let mut short: &[u8] = &PREFACE[..10];
        assert!(read_preface(&mut short).await.is_err());
    }
}
