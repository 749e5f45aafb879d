//! Aliases and databases.

use std::sync::Arc;

use super::{kv_pairs, ok_status, to_kv, Ctx, Proxy};
use crate::proto::common::Status;
use crate::proto::milvus as m;
use quiver_engine::catalog::names;
use quiver_engine::error::Result;

pub async fn create_alias(p: Arc<Proxy>, ctx: Ctx, r: m::CreateAliasRequest) -> Result<Status> {
    p.coord
        .set_alias(ctx.db(&r.db_name), &r.alias, &r.collection_name, false)
        .await?;
    Ok(Status::default())
}

pub async fn alter_alias(p: Arc<Proxy>, ctx: Ctx, r: m::AlterAliasRequest) -> Result<Status> {
    p.coord
        .set_alias(ctx.db(&r.db_name), &r.alias, &r.collection_name, true)
        .await?;
    Ok(Status::default())
}

pub async fn drop_alias(p: Arc<Proxy>, ctx: Ctx, r: m::DropAliasRequest) -> Result<Status> {
    p.coord.drop_alias(ctx.db(&r.db_name), &r.alias).await?;
    Ok(Status::default())
}

pub async fn describe_alias(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::DescribeAliasRequest,
) -> Result<m::DescribeAliasResponse> {
    names::alias(&r.alias)?;
    let db = ctx.db(&r.db_name).to_string();
    let collection = p.coord.describe_alias(&db, &r.alias)?;
    Ok(m::DescribeAliasResponse {
        status: ok_status(),
        db_name: db,
        alias: r.alias,
        collection,
    })
}

pub async fn list_aliases(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::ListAliasesRequest,
) -> Result<m::ListAliasesResponse> {
    let db = ctx.db(&r.db_name).to_string();
    let id = if r.collection_name.is_empty() {
        None
    } else {
        Some(p.collection(&ctx, &r.db_name, &r.collection_name)?.id)
    };
    Ok(m::ListAliasesResponse {
        status: ok_status(),
        aliases: p.coord.aliases(&db, id),
        db_name: db,
        collection_name: r.collection_name,
    })
}

pub async fn create_database(
    p: Arc<Proxy>,
    _c: Ctx,
    r: m::CreateDatabaseRequest,
) -> Result<Status> {
    p.coord
        .create_database(&r.db_name, kv_pairs(&r.properties))
        .await?;
    Ok(Status::default())
}

pub async fn drop_database(p: Arc<Proxy>, _c: Ctx, r: m::DropDatabaseRequest) -> Result<Status> {
    p.coord.drop_database(&r.db_name).await?;
    Ok(Status::default())
}

pub async fn list_databases(
    p: Arc<Proxy>,
    _c: Ctx,
    _r: m::ListDatabasesRequest,
) -> Result<m::ListDatabasesResponse> {
    let dbs = p.coord.list_databases();
    Ok(m::ListDatabasesResponse {
        status: ok_status(),
        db_names: dbs.iter().map(|d| d.name.clone()).collect(),
        created_timestamp: dbs.iter().map(|d| d.created_ts).collect(),
        db_ids: dbs.iter().map(|d| d.id).collect(),
    })
}

pub async fn describe_database(
    p: Arc<Proxy>,
    ctx: Ctx,
    r: m::DescribeDatabaseRequest,
) -> Result<m::DescribeDatabaseResponse> {
    let d = p.coord.database(ctx.db(&r.db_name))?;
    Ok(m::DescribeDatabaseResponse {
        status: ok_status(),
        db_name: d.name,
        db_id: d.id,
        created_timestamp: d.created_ts,
        properties: to_kv(&d.properties),
    })
}

pub async fn alter_database(p: Arc<Proxy>, ctx: Ctx, r: m::AlterDatabaseRequest) -> Result<Status> {
    p.coord
        .alter_database(ctx.db(&r.db_name), kv_pairs(&r.properties), r.delete_keys)
        .await?;
    Ok(Status::default())
}
