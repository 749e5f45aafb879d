//! Standalone wiring: every role in one process, connected without a network.
//!
//! Cluster mode would put gRPC between these same components; here the proxy
//! holds the data, query and index roles directly.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use quiver_storage::{MetaStore, ObjectStorage, SledMetaStore};
use tokio::net::TcpListener;

use crate::catalog::users::Users;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::datanode::{DataNode, DataNodeConfig};
use crate::indexnode::IndexNode;
use crate::proto::milvus::milvus_service_server::MilvusServiceServer;
use crate::proxy::{service::Service, Proxy};
use crate::querynode::QueryNode;

/// Opens storage, recovers state and builds the proxy.
pub async fn open(cfg: &Config) -> anyhow::Result<Arc<Proxy>> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data dir {}", cfg.data_dir.display()))?;
    let meta: Arc<dyn MetaStore> = Arc::new(
        SledMetaStore::open(&cfg.data_dir.join("meta")).context("cannot open metadata store")?,
    );
    let store = ObjectStorage::from_uri(&cfg.storage.uri, &cfg.data_dir)
        .context("cannot open object storage")?;
    tracing::info!(storage = %store.describe(), "object storage");
    let catalog = Arc::new(Catalog::open(meta.clone())?);
    let users = Arc::new(Users::open(meta.clone())?);
    let index = Arc::new(IndexNode::default());
    let data = DataNode::open(
        DataNodeConfig {
            wal_dir: cfg.data_dir.join("wal"),
            segment_max_bytes: cfg.limits.segment_max_bytes,
            sync_wal: cfg.limits.sync_wal,
            seal_idle: std::time::Duration::from_secs(cfg.limits.seal_idle_secs),
            max_partitions: cfg.limits.max_partitions,
            index_build_max_bytes: cfg.limits.index_build_max_bytes,
        },
        catalog.clone(),
        meta,
        store,
        index,
    )
    .await?;
    let query = Arc::new(QueryNode::new(data.clone()));
    Ok(Arc::new(Proxy {
        catalog,
        data,
        query,
        users,
        filter_limits: cfg.filter.to_filter(),
    }))
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let proxy = open(&cfg).await?;
    let addr: SocketAddr = format!("{}:{}", cfg.host, cfg.port)
        .parse()
        .with_context(|| format!("invalid listen address {}:{}", cfg.host, cfg.port))?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let users = proxy.users.clone();
    let auth_on = cfg.auth.enabled;
    let svc = MilvusServiceServer::new(Service::new(proxy))
        .max_decoding_message_size(cfg.limits.max_message_bytes)
        .max_encoding_message_size(cfg.limits.max_message_bytes);
    let svc =
        tonic::service::interceptor::InterceptedService::new(svc, move |req: tonic::Request<()>| {
            if auth_on {
                crate::proxy::auth::check(&users, &req)?;
            }
            Ok(req)
        });
    tracing::info!(
        "Quiver {} listening on {local} (data dir {}, ready in {} ms)",
        env!("CARGO_PKG_VERSION"),
        cfg.data_dir.display(),
        started.elapsed().as_millis()
    );
    // Nagle's algorithm would hold small responses back for up to ~40 ms;
    // `Server::tcp_nodelay` does not apply to a listener we pass in ourselves.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(svc)
        .serve_with_incoming_shutdown(incoming, shutdown_signal())
        .await?;
    tracing::info!("Quiver stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
