//! `quiver`: a Milvus-compatible vector database in one binary.
//!
//! `quiver serve` runs every role (proxy, query, data, index) in one process
//! with local storage; see ARCHITECTURE.md for how the pieces fit.

mod config;
mod convert;
mod internal;
mod net;
mod proto;
mod proxy;
mod server;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;

#[derive(Parser)]
#[command(
    name = "quiver",
    version,
    about = "A Milvus-compatible vector database"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the standalone server (all roles in one process).
    Serve {
        /// TOML config file; flags given here override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long)]
        host: Option<String>,
        /// gRPC port.
        #[arg(long)]
        port: Option<u16>,
        /// Data directory (WAL, metadata, local segment files).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Object storage for segments: s3://bucket/prefix, file:///path or memory://.
        #[arg(long)]
        storage: Option<String>,
        /// Require credentials (user:password; root / Milvus at first start).
        #[arg(long)]
        auth: bool,
        /// Put a loopback gRPC hop (`quiver.internal`) between the proxy and
        /// the query, data and index roles (tests of the role split).
        #[arg(long, env = "QUIVER_LOOPBACK_ROLES", value_parser = clap::builder::FalseyValueParser::new())]
        loopback_roles: bool,
        /// Threads building indexes (0: one per core; 1: reproducible graphs).
        #[arg(long)]
        index_build_threads: Option<usize>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("QUIVER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve {
            config,
            host,
            port,
            data_dir,
            storage,
            auth,
            loopback_roles,
            index_build_threads,
        } => {
            let mut cfg = match config {
                Some(path) => Config::from_file(&path)?,
                None => Config::default(),
            };
            if let Some(h) = host {
                cfg.host = h;
            }
            if let Some(p) = port {
                cfg.port = p;
            }
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            if let Some(s) = storage {
                cfg.storage.uri = s;
            }
            if auth {
                cfg.auth.enabled = true;
            }
            if loopback_roles {
                cfg.loopback_roles = true;
            }
            if let Some(t) = index_build_threads {
                cfg.limits.index_build_threads = t;
            }
            // Two runtimes: accepting and HTTP/2 framing on their own threads,
            // so recovery, compaction or heavy handlers (on `work`, but for
            // one request at a time: see src/net/mod.rs) never keep a new
            // client from connecting.
            let io = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("quiver-io")
                .enable_all()
                .build()?;
            let work = tokio::runtime::Builder::new_multi_thread()
                .thread_name("quiver-work")
                .enable_all()
                .build()?;
            let result = io.block_on(server::serve(cfg, work.handle().clone()));
            work.shutdown_timeout(std::time::Duration::from_secs(5));
            result
        }
    }
}
