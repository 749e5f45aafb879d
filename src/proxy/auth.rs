//! Authentication: the `authorization` header check and the credential RPCs.
//!
//! pymilvus sends `base64("user:password")` in the `authorization` header on
//! every call. With authentication on, a missing or wrong credential is the one
//! failure answered at the gRPC level (UNAUTHENTICATED), as Milvus does, so the
//! client fails at once instead of retrying. Repeated failures back off
//! ([`super::backoff`]), and refused attempts get the same UNAUTHENTICATED.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine;

use super::backoff::Backoff;
use super::{ok_status, Ctx, Proxy};
use crate::catalog::users::Users;
use crate::error::{invalid, Result};
use crate::net::PeerAddr;
use crate::proto::common::Status;
use crate::proto::milvus as m;

fn b64(s: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The credential check with failed-login back-off.
pub struct Gate {
    users: Arc<Users>,
    backoff: Backoff,
}

impl Gate {
    pub fn new(users: Arc<Users>, backoff: Backoff) -> Self {
        Gate { users, backoff }
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
        if self.users.verify(user, pass) {
            self.backoff.succeeded(user, addr);
            Ok(())
        } else {
            self.backoff.failed(user, addr, now);
            Err(failure())
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
