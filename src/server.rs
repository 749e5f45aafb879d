//! Standalone wiring: every role in one process, connected without a network.
//!
//! Cluster mode would put gRPC between these same components; here the proxy
//! holds the data, query and index roles directly, or, with `loopback_roles`,
//! through `quiver.internal` gRPC clients of the same roles served on loopback
//! ports ([`crate::internal`]), which tests use to prove the split. [`serve`]
//! puts the connection layer ([`crate::net`]) in front of the tonic service.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use quiver_storage::{MetaStore, ObjectStorage, SledMetaStore};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::internal::Loopback;
use crate::net::{self, Handler, NetLimits, ReqBody};
use crate::proto::milvus::milvus_service_server::MilvusServiceServer;
use crate::proxy::backoff::{Backoff, BackoffConfig};
use crate::proxy::{service::Service, Proxy};
use quiver_engine::catalog::users::Users;
use quiver_engine::catalog::Catalog;
use quiver_engine::coord::LocalCoordinator;
use quiver_engine::datanode::{DataNode, DataNodeConfig};
use quiver_engine::indexnode::IndexNode;
use quiver_engine::querynode::{FilterCache, QueryNode};
use quiver_engine::roles::{Coordinator, DataService, IndexService, LocalData, QueryService};

/// How long shutdown waits for background tasks to stop at their next await.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What [`open`] wires up.
pub struct Opened {
    pub proxy: Arc<Proxy>,
    /// With `loopback_roles`, the role servers the proxy's clients talk to
    /// (stop them with [`Loopback::shutdown`] once the proxy is done).
    pub loopback: Option<Loopback>,
    /// The data role itself, whose background work stops on
    /// [`DataNode::shutdown`] (a role process owns its own shutdown; it is not
    /// an operation the proxy asks for).
    pub data_node: Arc<DataNode>,
}

/// Opens storage, recovers state and builds the proxy and the roles behind it.
pub async fn open(cfg: &Config) -> anyhow::Result<Opened> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data dir {}", cfg.data_dir.display()))?;
    let meta: Arc<dyn MetaStore> = Arc::new(
        SledMetaStore::open(&cfg.data_dir.join("meta")).context("cannot open metadata store")?,
    );
    let store = ObjectStorage::from_uri(&cfg.storage.uri, &cfg.data_dir)
        .context("cannot open object storage")?;
    tracing::info!(storage = %store.describe(), "object storage");
    let coord: Arc<dyn Coordinator> = Arc::new(LocalCoordinator::new(Arc::new(Catalog::open(
        meta.clone(),
    )?))?);
    let users = Arc::new(Users::open(meta.clone())?);
    // Builds run on the index node's own pool, not the one searches use.
    let index = Arc::new(
        IndexNode::new(store.clone(), cfg.limits.index_build_threads)
            .context("cannot start the index pool")?,
    );
    let data = DataNode::open(
        DataNodeConfig {
            wal_dir: cfg.data_dir.join("wal"),
            segment_max_bytes: cfg.limits.segment_max_bytes,
            sync_wal: cfg.limits.sync_wal,
            seal_idle: std::time::Duration::from_secs(cfg.limits.seal_idle_secs),
            index_build_max_bytes: cfg.limits.index_build_max_bytes,
        },
        coord.clone(),
        meta,
        store,
        index,
    )
    .await?;
    // Standalone wiring: every role in process, behind the same traits a
    // network hop would implement.
    let filter_limits = cfg.filter.to_filter();
    let filters = Arc::new(FilterCache::default());
    // A query node behind the loopback hop keeps its own cache, as a remote one would.
    let node_filters = if cfg.loopback_roles {
        Arc::new(FilterCache::default())
    } else {
        filters.clone()
    };
    let query: Arc<dyn QueryService> = Arc::new(QueryNode::new(
        data.clone(),
        coord.clone(),
        filter_limits,
        node_filters,
    ));
    let local = Arc::new(LocalData(data.clone()));
    let data_node = data;
    let (data, index): (Arc<dyn DataService>, Arc<dyn IndexService>) = (local.clone(), local);
    let (query, data, index, loopback) = if cfg.loopback_roles {
        let hop = Loopback::start(query, data, index).await?;
        (
            hop.query.clone(),
            hop.data.clone(),
            hop.index.clone(),
            Some(hop),
        )
    } else {
        (query, data, index, None)
    };
    let proxy = Arc::new(Proxy {
        coord,
        data,
        index,
        query,
        users,
        filter_limits,
        filters,
        max_partitions: cfg.limits.max_partitions,
    });
    Ok(Opened {
        proxy,
        loopback,
        data_node,
    })
}

/// Serves until SIGTERM or Ctrl-C.
///
/// Runs on the I/O runtime: the listener is bound and accepting before the
/// data is opened (on `work`, like every handler), so clients connect at once
/// after a restart and their first requests wait for recovery to finish.
pub async fn serve(cfg: Config, work: tokio::runtime::Handle) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let addr: SocketAddr = format!("{}:{}", cfg.host, cfg.port)
        .parse()
        .with_context(|| format!("invalid listen address {}:{}", cfg.host, cfg.port))?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let (ready_tx, ready_rx) = tokio::sync::watch::channel(None);
    let limits = NetLimits::from_config(&cfg.limits);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let accept = tokio::spawn(net::serve(
        listener,
        ready_rx,
        limits,
        work.clone(),
        async move {
            tokio::select! {
                _ = shutdown_signal() => {},
                _ = stop_rx => {},
            }
        },
    ));
    tracing::info!(
        "Quiver {} listening on {local} (data dir {})",
        env!("CARGO_PKG_VERSION"),
        cfg.data_dir.display(),
    );
    let opened = {
        let cfg = cfg.clone();
        work.spawn(async move { open(&cfg).await }).await
    };
    let Opened {
        proxy,
        loopback,
        data_node,
    } = match opened {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            let _ = stop_tx.send(());
            let _ = accept.await;
            return Err(e);
        }
        Err(e) => {
            let _ = stop_tx.send(());
            let _ = accept.await;
            anyhow::bail!("opening the data failed: {e}");
        }
    };
    let _ = ready_tx.send(Some(handler(proxy, &cfg)));
    tracing::info!("ready in {} ms", started.elapsed().as_millis());
    let served = accept.await;
    if let Some(hop) = loopback {
        hop.shutdown().await;
    }
    // Seals, compactions and builds in flight stop (their work is redone from
    // the WAL and the manifests at the next start); acknowledged writes are
    // in the WAL already.
    if !data_node.shutdown(SHUTDOWN_WAIT).await {
        tracing::warn!("background tasks still running at exit");
    }
    served?;
    tracing::info!("Quiver stopped");
    Ok(())
}

/// The tonic service (with the auth interceptor) behind a [`Handler`].
fn handler(proxy: Arc<Proxy>, cfg: &Config) -> Handler {
    let gate = Arc::new(crate::proxy::auth::Gate::new(
        proxy.users.clone(),
        Backoff::new(BackoffConfig::from_config(&cfg.auth)),
    ));
    let auth_on = cfg.auth.enabled;
    let max = cfg.limits.max_message_bytes;
    let svc = MilvusServiceServer::new(Service::new(proxy, max))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let svc =
        tonic::service::interceptor::InterceptedService::new(svc, move |req: tonic::Request<()>| {
            if auth_on {
                return gate.intercept(req);
            }
            Ok(req)
        });
    Arc::new(move |mut req: http::Request<ReqBody>| {
        if req.uri().path() == "/milvus.proto.milvus.MilvusService/Connect" {
            req.extensions_mut().insert(crate::proxy::auth::ConnectCall);
        }
        let mut svc = svc.clone();
        Box::pin(async move {
            use tower_service::Service as _;
            let ready = futures::future::poll_fn(|cx| {
                tower_service::Service::<http::Request<ReqBody>>::poll_ready(&mut svc, cx)
            })
            .await;
            let resp = match ready {
                Ok(()) => svc.call(req).await,
                Err(e) => Err(e),
            };
            match resp {
                Ok(r) => r.map(tonic::body::Body::new),
                Err(e) => match e {},
            }
        })
    })
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
