//! Admission of a request against the shared in-flight byte budget.
//!
//! A 237 MB insert costs several times its size while it is received, decoded
//! and converted, so a few concurrent large requests could exhaust memory.
//! Before tonic decodes anything we read the 5-byte gRPC message prefix, learn
//! the message size, and take that many bytes from a semaphore that holds
//! `max_inflight_bytes`; the permit lives until the handler has answered. A
//! request that cannot get room within `inflight_wait_secs` (or is larger than
//! `max_message_bytes`) is not decoded at all: its handler receives an empty
//! message plus a [`Refusal`] and answers with an in-band Milvus status.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::body::{BodyError, ReqBody, SlowBody};

/// Messages below this size are never made to wait: they cost little memory
/// and include the health checks a busy server must keep answering.
const SMALL_MESSAGE: usize = 64 << 10;
/// The budget counts in KiB so a semaphore's u32 acquire covers any size.
const UNIT: usize = 1024;

/// Why a request was answered without being decoded.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The in-flight budget stayed full for the whole wait.
    Busy { bytes: usize, budget: usize },
    /// The message exceeds `max_message_bytes`.
    TooLarge { bytes: usize, max: usize },
}

/// The shared in-flight byte budget (`None`: unbounded).
pub(crate) struct Budget {
    sem: Option<Arc<Semaphore>>,
    units: u32,
    bytes: usize,
}

impl Budget {
    pub(crate) fn new(bytes: usize) -> Self {
        let units = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX);
        Budget {
            sem: (bytes > 0).then(|| Arc::new(Semaphore::new(units as usize))),
            units,
            bytes,
        }
    }

    /// Units for a message: one request larger than the whole budget may still
    /// run, alone.
    fn cost(&self, bytes: usize) -> u32 {
        u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .min(self.units)
    }
}

/// What admission decided.
pub(crate) enum Admitted {
    Go(ReqBody, Option<OwnedSemaphorePermit>),
    Refused(Refusal),
}

/// Reads the message prefix, then waits (bounded) for budget.
pub(crate) async fn admit(
    mut body: SlowBody,
    budget: &Budget,
    max_message_bytes: usize,
    wait: Duration,
) -> Result<Admitted, BodyError> {
    let mut head = VecDeque::new();
    let mut prefix = [0u8; 5];
    let mut have = 0usize;
    let mut ended = false;
    while have < prefix.len() {
        let Some(frame) = body.frame().await else {
            ended = true;
            break;
        };
        let frame = frame?;
        match frame.data_ref() {
            Some(d) => {
                let n = d.len().min(prefix.len() - have);
                prefix[have..have + n].copy_from_slice(&d[..n]);
                have += n;
                head.push_back(frame);
            }
            None => {
                // Trailers end the body.
                head.push_back(frame);
                ended = true;
                break;
            }
        }
    }
    let size = if have == prefix.len() {
        5 + u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize
    } else {
        have
    };
    if size > max_message_bytes.saturating_add(5) {
        return Ok(Admitted::Refused(Refusal::TooLarge {
            bytes: size - 5,
            max: max_message_bytes,
        }));
    }
    let mut permit = None;
    if let Some(sem) = budget.sem.as_ref().filter(|_| size >= SMALL_MESSAGE) {
        let t0 = Instant::now();
        match tokio::time::timeout(wait, sem.clone().acquire_many_owned(budget.cost(size))).await {
            Ok(Ok(p)) => permit = Some(p),
            Ok(Err(_closed)) => {}
            Err(_) => {
                return Ok(Admitted::Refused(Refusal::Busy {
                    bytes: size,
                    budget: budget.bytes,
                }))
            }
        }
        body.pause(t0.elapsed());
    }
    let rest = (!ended).then_some(body);
    Ok(Admitted::Go(ReqBody::new(head, rest), permit))
}

/// The deadline a `grpc-timeout` header asks for ("<= 8 digits><unit>").
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_units() {
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("10x"), None);
    }

    #[tokio::test]
    async fn budget_bounds_concurrent_large_requests() {
        let b = Budget::new(1 << 20);
        let sem = b.sem.clone().expect("bounded");
        let first = sem
            .clone()
            .acquire_many_owned(b.cost(900 << 10))
            .await
            .expect("room");
        let second = tokio::time::timeout(
            Duration::from_millis(50),
            sem.clone().acquire_many_owned(b.cost(900 << 10)),
        )
        .await;
        assert!(second.is_err(), "a second 900 KiB request must wait");
        drop(first);
        let third = tokio::time::timeout(
            Duration::from_millis(50),
            sem.clone().acquire_many_owned(b.cost(usize::MAX / 2)),
        )
        .await;
        assert!(third.is_ok(), "an oversized request runs alone");
        assert!(Budget::new(0).sem.is_none());
    }
}
