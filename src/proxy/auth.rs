//! Authentication: the `authorization` header check and the credential RPCs.
//!
//! pymilvus sends `base64("user:password")` in the `authorization` header on
//! every call. With authentication on, a missing or wrong credential is the one
//! failure answered at the gRPC level (UNAUTHENTICATED), as Milvus does, so the
//! client fails at once instead of retrying.

use std::sync::Arc;

use base64::Engine;

use super::{ok_status, Ctx, Proxy};
use crate::catalog::users::Users;
use crate::error::{invalid, Result};
use crate::proto::common::Status;
use crate::proto::milvus as m;

fn b64(s: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// Checks the `authorization` header of a request.
pub fn check(users: &Users, req: &tonic::Request<()>) -> std::result::Result<(), tonic::Status> {
    let Some(header) = req
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    else {
        return Err(tonic::Status::unauthenticated(
            "missing authorization in header",
        ));
    };
    let ok = b64(header)
        .and_then(|text| {
            let (user, pass) = text.split_once(':')?;
            Some(users.verify(user, pass))
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(tonic::Status::unauthenticated(
            "auth check failure, please check username and password are correct",
        ))
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
