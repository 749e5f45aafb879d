//! Authentication: the `authorization` header check and the credential RPCs.
//!
//! pymilvus sends `base64("user:password")` in the `authorization` header on
//! every call. With authentication on, a missing or wrong credential is the one
//! failure answered at the gRPC level (UNAUTHENTICATED), as Milvus does, so the
//! client fails at once instead of retrying. Repeated failures back off
//! ([`super::backoff`]), and refused attempts get the same UNAUTHENTICATED.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use parking_lot::{Condvar, Mutex};

use super::backoff::Backoff;
use super::{ok_status, Ctx, Proxy};
use crate::net::PeerAddr;
use crate::proto::common::Status;
use crate::proto::milvus as m;
use quiver_engine::catalog::users::Users;
use quiver_engine::error::{invalid, Result};

fn b64(s: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// Marks a request for `MilvusService/Connect` (set from the HTTP path).
#[derive(Clone, Copy)]
pub struct ConnectCall;

/// A `Connect` whose credentials were refused, with the refusal's text.
#[derive(Clone)]
pub struct AuthFailed(pub String);

/// The credential check with failed-login back-off.
pub struct Gate {
    users: Arc<Users>,
    backoff: Backoff,
    busy: Mutex<usize>,
    freed: Condvar,
}

/// Password checks running at once, at most: each argon2 check takes ~19 MiB
/// and a core for tens of milliseconds, and a burst of guesses arrives before
/// any failure is recorded.
const MAX_VERIFYING: usize = 4;
/// How long a check waits for a slot before the client is told to retry.
const VERIFY_WAIT: Duration = Duration::from_secs(2);

/// Runs blocking work without stalling the other tasks of a runtime worker.
fn in_place<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl Gate {
    pub fn new(users: Arc<Users>, backoff: Backoff) -> Self {
        Gate {
            users,
            backoff,
            busy: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// A password check under the concurrency bound; `None` if no slot freed up.
    fn verify_bounded(&self, user: &str, pass: &str) -> Option<bool> {
        in_place(|| {
            let until = Instant::now() + VERIFY_WAIT;
            {
                let mut busy = self.busy.lock();
                while *busy >= MAX_VERIFYING {
                    if self.freed.wait_until(&mut busy, until).timed_out() {
                        return None;
                    }
                }
                *busy += 1;
            }
            let ok = self.users.verify(user, pass);
            *self.busy.lock() -= 1;
            self.freed.notify_one();
            Some(ok)
        })
    }

    /// Checks a request's credentials in the interceptor. A failed `Connect`
    /// (marked [`ConnectCall`] by the server) is let through carrying
    /// [`AuthFailed`], so its handler answers in-band: pymilvus reports a
    /// gRPC-level refusal of its first call as "Fail connecting to server …
    /// server unavailable", which sends users hunting for network problems,
    /// while an in-band status reaches them as the authentication failure it is.
    pub fn intercept(
        &self,
        mut req: tonic::Request<()>,
    ) -> std::result::Result<tonic::Request<()>, tonic::Status> {
        match self.check(&req) {
            Ok(()) => Ok(req),
            Err(st) if req.extensions().get::<ConnectCall>().is_some() => {
                let reason = st.message().to_string();
                req.extensions_mut().insert(AuthFailed(reason));
                Ok(req)
            }
            Err(st) => Err(st),
        }
    }

    /// Checks the `authorization` header of a request.
    ///
    /// Credentials verified before are answered from the users' cache without
    /// back-off, so a working client is not slowed by someone guessing; any
    /// other attempt is refused while its user or address is backing off.
    pub fn check(&self, req: &tonic::Request<()>) -> std::result::Result<(), tonic::Status> {
        let Some(header) = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        else {
            return Err(tonic::Status::unauthenticated(
                "missing authorization in header",
            ));
        };
        let failure = || {
            tonic::Status::unauthenticated(
                "auth check failure, please check username and password are correct",
            )
        };
        let text = b64(header).ok_or_else(failure)?;
        let (user, pass) = text.split_once(':').ok_or_else(failure)?;
        if self.users.verify_cached(user, pass) {
            return Ok(());
        }
        let addr = req.extensions().get::<PeerAddr>().map(|p| p.0.ip());
        let now = Instant::now();
        if let Some(wait) = self.backoff.blocked(user, addr, now) {
            return Err(tonic::Status::unauthenticated(format!(
                "auth check failure: too many failed login attempts, retry in {:.1} s",
                wait.as_secs_f64()
            )));
        }
        match self.verify_bounded(user, pass) {
            Some(true) => {
                self.backoff.succeeded(user, addr);
                Ok(())
            }
            Some(false) => {
                self.backoff.failed(user, addr, now);
                Err(failure())
            }
            // UNAVAILABLE: pymilvus reconnects and retries.
            None => Err(tonic::Status::unavailable(
                "too many logins being checked at once; retry",
            )),
        }
    }
}

fn password(field: &str) -> Result<String> {
    b64(field).ok_or_else(|| invalid("password is not valid base64"))
}

pub async fn create_credential(
    p: Arc<Proxy>,
    _c: Ctx,
    r: m::CreateCredentialRequest,
) -> Result<Status> {
    p.users.create(&r.username, &password(&r.password)?)?;
    Ok(Status::default())
}

pub async fn update_credential(
    p: Arc<Proxy>,
    _c: Ctx,
    r: m::UpdateCredentialRequest,
) -> Result<Status> {
    p.users.update(
        &r.username,
        &password(&r.old_password)?,
        &password(&r.new_password)?,
    )?;
    Ok(Status::default())
}

pub async fn delete_credential(
    p: Arc<Proxy>,
    _c: Ctx,
    r: m::DeleteCredentialRequest,
) -> Result<Status> {
    p.users.delete(&r.username)?;
    Ok(Status::default())
}

pub async fn list_cred_users(
    p: Arc<Proxy>,
    _c: Ctx,
    _r: m::ListCredUsersRequest,
) -> Result<m::ListCredUsersResponse> {
    Ok(m::ListCredUsersResponse {
        status: ok_status(),
        usernames: p.users.list(),
    })
}
