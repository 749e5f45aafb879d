//! Server configuration: a TOML file, overridden by command-line flags.
//!
//! Every flag of `quiver serve` has a key here, so a deployment can keep all of
//! it in one file and a laptop user can pass nothing at all.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything `quiver serve` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub host: String,
    /// gRPC port (Milvus's default is 19530).
    pub port: u16,
    /// Where the WAL, metadata and (by default) segment files live.
    pub data_dir: PathBuf,
    pub storage: StorageConfig,
    pub limits: Limits,
    pub auth: AuthConfig,
    pub filter: FilterLimits,
    /// Serve the query, data and index roles on loopback gRPC ports and have
    /// the proxy reach them through clients (`--loopback-roles`), instead of
    /// calling them in process. Same answers, one more hop: for tests.
    pub loopback_roles: bool,
}

/// Caps on filter expressions (see `quiver_filter::Limits` for what each bounds).
/// A cap that is too low refuses the expression with an invalid-parameter status.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterLimits {
    /// Longest accepted expression, in bytes.
    pub max_expr_bytes: usize,
    /// Deepest accepted nesting (Milvus's `proxy.maxExpressionDepth`).
    pub max_depth: usize,
    /// Most syntax-tree nodes.
    pub max_nodes: usize,
    /// Most predicates evaluated per row after simplification.
    pub max_predicates: usize,
}

impl Default for FilterLimits {
    fn default() -> Self {
        let d = quiver_filter::Limits::DEFAULT;
        FilterLimits {
            max_expr_bytes: d.max_expr_bytes,
            max_depth: d.max_depth,
            max_nodes: d.max_nodes,
            max_predicates: d.max_predicates,
        }
    }
}

impl FilterLimits {
    /// The limits the filter crate applies.
    pub fn to_filter(&self) -> quiver_filter::Limits {
        quiver_filter::Limits {
            max_expr_bytes: self.max_expr_bytes,
            max_depth: self.max_depth,
            max_nodes: self.max_nodes,
            max_predicates: self.max_predicates,
        }
    }
}

/// Authentication (off by default, as in Milvus).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Require `user:password` credentials (root / Milvus at first start).
    pub enabled: bool,
    /// Failed logins (per user and per client address) before back-off starts.
    pub free_failures: u32,
    /// First back-off step; each further failure doubles it.
    pub backoff_base_ms: u64,
    /// Longest back-off step.
    pub backoff_max_ms: u64,
    /// Failures are forgotten after this long without a new one.
    pub backoff_forget_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            enabled: false,
            free_failures: 3,
            backoff_base_ms: 1000,
            backoff_max_ms: 60_000,
            backoff_forget_secs: 900,
        }
    }
}

/// Object storage for sealed segments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// "" (local files under the data dir), `file:///path`, `memory://` or `s3://bucket/prefix`.
    pub uri: String,
}

/// Size limits and durability knobs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest gRPC message accepted or sent.
    pub max_message_bytes: usize,
    /// A growing segment is sealed once it holds this many bytes.
    pub segment_max_bytes: usize,
    /// fsync the WAL before acknowledging writes.
    pub sync_wal: bool,
    /// A growing segment with no writes for this many seconds is sealed, so
    /// the WAL behind it can be dropped (Milvus `dataCoord.segment.maxIdleTime`).
    pub seal_idle_secs: u64,
    /// Most partitions one collection may have, `num_partitions` of a
    /// partition-key collection included (Milvus `rootCoord.maxPartitionNum`).
    pub max_partitions: usize,
    /// An index build whose estimated memory exceeds this is refused and the
    /// index marked Failed, instead of the build exhausting memory.
    pub index_build_max_bytes: usize,
    /// Threads of the index build pool (0: one per core). One thread makes a
    /// build reproducible bit for bit: graph construction inserts points in
    /// parallel, so with several threads the neighbour lists depend on timing.
    pub index_build_threads: usize,
    // Connections and requests (src/net)
    /// A connection that has not sent the HTTP/2 preface and SETTINGS by then is closed.
    pub handshake_timeout_secs: u64,
    /// A connection with no request for this long is closed gracefully (0: never).
    pub idle_timeout_secs: u64,
    /// HTTP/2 PING interval on quiet connections (0: no pings).
    pub keepalive_interval_secs: u64,
    /// A PING unanswered for this long closes the connection.
    pub keepalive_timeout_secs: u64,
    /// Open connections beyond this are closed at once (0: no cap).
    pub max_connections: usize,
    /// Concurrent requests (HTTP/2 streams) per connection.
    pub max_streams_per_connection: u32,
    /// Grace period for receiving a request body (0: no body deadline).
    pub request_body_timeout_secs: u64,
    /// After the grace period a body must keep arriving at this average rate
    /// (0: the grace period is a hard limit).
    pub min_request_bytes_per_sec: u64,
    /// Total bytes of request messages being received and handled at once (0: no bound).
    pub max_inflight_bytes: usize,
    /// How long a request waits for room under `max_inflight_bytes` before it is refused.
    pub inflight_wait_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 256 << 20,
            segment_max_bytes: 1 << 30,
            sync_wal: true,
            seal_idle_secs: 600,
            max_partitions: 1024,
            index_build_max_bytes: 64 << 30,
            index_build_threads: 0,
            // Connections and requests (src/net)
            handshake_timeout_secs: 10,
            idle_timeout_secs: 600,
            keepalive_interval_secs: 60,
            keepalive_timeout_secs: 20,
            max_connections: 4096,
            max_streams_per_connection: 128,
            request_body_timeout_secs: 30,
            min_request_bytes_per_sec: 64 << 10,
            max_inflight_bytes: 1 << 30,
            inflight_wait_secs: 10,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 19530,
            data_dir: PathBuf::from("./quiver-data"),
            storage: StorageConfig::default(),
            limits: Limits::default(),
            auth: AuthConfig::default(),
            filter: FilterLimits::default(),
            loopback_roles: false,
        }
    }
}

impl Config {
    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("invalid config {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let c: Config = toml::from_str(
            r#"
            host = "0.0.0.0"
            port = 1234
            data_dir = "/tmp/q"
            loopback_roles = true
            [storage]
            uri = "s3://b/p"
            [limits]
            max_message_bytes = 10
            segment_max_bytes = 20
            sync_wal = false
            seal_idle_secs = 5
            max_partitions = 7
            index_build_max_bytes = 1000
            index_build_threads = 3
            handshake_timeout_secs = 1
            idle_timeout_secs = 2
            keepalive_interval_secs = 3
            keepalive_timeout_secs = 4
            max_connections = 5
            max_streams_per_connection = 6
            request_body_timeout_secs = 7
            min_request_bytes_per_sec = 8
            max_inflight_bytes = 9
            inflight_wait_secs = 10
            [auth]
            enabled = true
            free_failures = 1
            backoff_base_ms = 2
            backoff_max_ms = 3
            backoff_forget_secs = 4
            [filter]
            max_expr_bytes = 100
            max_depth = 7
            "#,
        )
        .expect("parse");
        assert_eq!(c.port, 1234);
        assert!(c.loopback_roles);
        assert!(!Config::default().loopback_roles);
        assert_eq!(c.storage.uri, "s3://b/p");
        assert!(!c.limits.sync_wal);
        assert_eq!(c.limits.seal_idle_secs, 5);
        assert_eq!(c.limits.max_partitions, 7);
        assert_eq!(c.limits.index_build_max_bytes, 1000);
        assert_eq!(c.limits.index_build_threads, 3);
        assert!(c.auth.enabled);
        assert_eq!(c.filter.to_filter().max_expr_bytes, 100);
        assert_eq!(c.filter.to_filter().max_depth, 7);
        assert_eq!(
            c.filter.max_predicates,
            quiver_filter::Limits::DEFAULT.max_predicates
        );
        assert_eq!(c.limits.handshake_timeout_secs, 1);
        assert_eq!(c.limits.max_connections, 5);
        assert_eq!(c.limits.max_streams_per_connection, 6);
        assert_eq!(c.limits.min_request_bytes_per_sec, 8);
        assert_eq!(c.limits.max_inflight_bytes, 9);
        assert_eq!(c.limits.inflight_wait_secs, 10);
        assert_eq!(c.auth.free_failures, 1);
        assert_eq!(c.auth.backoff_max_ms, 3);
        assert_eq!(c.auth.backoff_forget_secs, 4);
        let d: Config = toml::from_str("[limits]\nsync_wal = true").expect("old config");
        assert_eq!(d.limits.idle_timeout_secs, 600);
        assert_eq!(d.auth.backoff_base_ms, 1000);
        assert!(toml::from_str::<Config>("bogus = 1").is_err());
        assert_eq!(Config::default().port, 19530);
    }
}
