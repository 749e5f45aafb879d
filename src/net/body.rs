//! Request bodies: cut off when they trickle, replayed after admission.
//!
//! A client that sends one byte a second would otherwise hold a stream, a
//! buffer and (under `max_inflight_bytes`) part of the memory budget forever.
//! [`SlowBody`] gives every body a grace period plus time proportional to what
//! has arrived at `min_request_bytes_per_sec`; past that the body fails and the
//! connection is told to close. [`ReqBody`] is what tonic decodes: the chunks
//! [`super::admit`] already read, then the rest of the stream.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::Sleep;

use super::conn::Activity;

/// Why a request body stopped.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(
        "request body arrived too slowly ({received} bytes in {elapsed:?}); connection closed"
    )]
    TooSlow { received: u64, elapsed: Duration },
    #[error("request body: {0}")]
    Transport(#[from] hyper::Error),
}

/// The deadline rule of a request body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyDeadline {
    /// Time every body gets; `None` disables the rule.
    pub grace: Option<Duration>,
    /// Bytes per second that earn further time (0: the grace is a hard limit).
    pub min_rate: u64,
}

/// An incoming body under a [`BodyDeadline`].
pub struct SlowBody {
    inner: Incoming,
    rule: BodyDeadline,
    start: Instant,
    received: u64,
    timer: Option<Pin<Box<Sleep>>>,
    activity: Arc<Activity>,
}

impl SlowBody {
    pub(crate) fn new(inner: Incoming, rule: BodyDeadline, activity: Arc<Activity>) -> Self {
        SlowBody {
            inner,
            rule,
            start: Instant::now(),
            received: 0,
            timer: None,
            activity,
        }
    }

    /// Excludes time the server itself kept the body waiting (admission).
    pub(crate) fn pause(&mut self, waited: Duration) {
        self.start += waited;
    }

    fn deadline(&self) -> Option<Instant> {
        let grace = self.rule.grace?;
        let earned = if self.rule.min_rate == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(self.received as f64 / self.rule.min_rate as f64)
        };
        Some(self.start + grace + earned)
    }

    fn expire(&mut self) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.activity.kill();
        Poll::Ready(Some(Err(BodyError::TooSlow {
            received: self.received,
            elapsed: self.start.elapsed(),
        })))
    }
}

impl Body for SlowBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.received += d.len() as u64;
                    if this.deadline().is_some_and(|dl| Instant::now() > dl) {
                        return this.expire();
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let Some(dl) = this.deadline() else {
                    return Poll::Pending;
                };
                let dl = tokio::time::Instant::from_std(dl);
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(dl)));
                if timer.deadline() != dl {
                    timer.as_mut().reset(dl);
                }
                if timer.as_mut().poll(cx).is_ready() {
                    return this.expire();
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The body tonic decodes: chunks read during admission, then the rest.
pub struct ReqBody {
    head: VecDeque<Frame<Bytes>>,
    rest: Option<SlowBody>,
}

impl ReqBody {
    pub(crate) fn new(head: VecDeque<Frame<Bytes>>, rest: Option<SlowBody>) -> Self {
        ReqBody { head, rest }
    }

    /// One empty gRPC message: what a refused request is decoded from, so its
    /// handler can still answer with the typed response and an in-band status.
    pub(crate) fn empty_message() -> Self {
        let frame = Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]));
        ReqBody {
            head: VecDeque::from([frame]),
            rest: None,
        }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if let Some(f) = this.head.pop_front() {
            return Poll::Ready(Some(Ok(f)));
        }
        match &mut this.rest {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.head.is_empty() && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }
}
