//! `quiver.internal`: the gRPC hop between the proxy and the other roles.
//!
//! [`server`] serves the role traits over tonic, [`client`] implements the same
//! traits over a channel, and [`codec`]/[`reads`] convert the plain data both
//! ways. [`Loopback::start`] puts the hop between an in-process proxy and
//! in-process roles on `127.0.0.1` ports (`quiver serve --loopback-roles`): the
//! proxy sees only gRPC clients, so tests prove the traits really carry
//! everything a network split needs, with identical answers.

pub mod client;
pub mod codec;
pub mod reads;
pub mod server;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use quiver_engine::roles::{DataService, IndexService, QueryService};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};

use crate::proto::internal::data_node_server::DataNodeServer;
use crate::proto::internal::index_node_server::IndexNodeServer;
use crate::proto::internal::query_node_server::QueryNodeServer;

/// Largest internal message either way: search results with output columns
/// can be far bigger than the client's request.
pub const MAX_MESSAGE_BYTES: usize = 512 << 20;

/// The three role services on loopback ports, and clients for the proxy.
pub struct Loopback {
    /// The query role, as the proxy should hold it.
    pub query: Arc<dyn QueryService>,
    /// The data role, as the proxy should hold it.
    pub data: Arc<dyn DataService>,
    /// The index role, as the proxy should hold it.
    pub index: Arc<dyn IndexService>,
    /// Dropping or sending stops every server.
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Loopback {
    /// Serves each role on its own `127.0.0.1:0` port and connects a client to it.
    pub async fn start(
        query: Arc<dyn QueryService>,
        data: Arc<dyn DataService>,
        index: Arc<dyn IndexService>,
    ) -> anyhow::Result<Loopback> {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::with_capacity(3);
        let q = QueryNodeServer::from_arc(Arc::new(server::QueryGrpc(query)))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let q_addr = spawn_server(q, "query", stopped.clone(), &mut tasks)?;
        let d = DataNodeServer::from_arc(Arc::new(server::DataGrpc(data)))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let d_addr = spawn_server(d, "data", stopped.clone(), &mut tasks)?;
        let i = IndexNodeServer::from_arc(Arc::new(server::IndexGrpc(index)))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let i_addr = spawn_server(i, "index", stopped, &mut tasks)?;
        tracing::info!(query = %q_addr, data = %d_addr, index = %i_addr, "loopback roles");
        Ok(Loopback {
            query: Arc::new(client::QueryClient::new(connect(q_addr).await?)),
            data: Arc::new(client::DataClient::new(connect(d_addr).await?)),
            index: Arc::new(client::IndexClient::new(connect(i_addr).await?)),
            stop,
            tasks,
        })
    }

    /// Stops the servers and waits (briefly) for them to finish.
    pub async fn shutdown(self) {
        let Loopback {
            query,
            data,
            index,
            stop,
            tasks,
        } = self;
        drop((query, data, index));
        let _ = stop.send(true);
        for t in tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

/// Binds a loopback port and serves `svc` on it until `stopped` changes.
fn spawn_server<S>(
    svc: S,
    role: &'static str,
    mut stopped: watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> anyhow::Result<SocketAddr>
where
    S: tower_service::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|e| anyhow::anyhow!("cannot bind the {role} role's loopback port: {e}"))?
        .with_nodelay(Some(true));
    let addr = incoming.local_addr()?;
    tasks.push(tokio::spawn(async move {
        let signal = async move {
            let _ = stopped.changed().await;
        };
        let served = Server::builder()
            .add_service(svc)
            .serve_with_incoming_shutdown(incoming, signal)
            .await;
        if let Err(e) = served {
            tracing::error!(role, error = %e, "loopback role server failed");
        }
    }));
    Ok(addr)
}

/// An HTTP/2 channel to a loopback role.
async fn connect(addr: SocketAddr) -> anyhow::Result<Channel> {
    Endpoint::from_shared(format!("http://{addr}"))
        .context("loopback endpoint")?
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("cannot connect to the loopback role at {addr}"))
}
