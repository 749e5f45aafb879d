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
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Require `user:password` credentials (root / Milvus at first start).
    pub enabled: bool,
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
            [storage]
            uri = "s3://b/p"
            [limits]
            max_message_bytes = 10
            segment_max_bytes = 20
            sync_wal = false
            seal_idle_secs = 5
            max_partitions = 7
            index_build_max_bytes = 1000
            [auth]
            enabled = true
            [filter]
            max_expr_bytes = 100
            max_depth = 7
            "#,
        )
        .expect("parse");
        assert_eq!(c.port, 1234);
        assert_eq!(c.storage.uri, "s3://b/p");
        assert!(!c.limits.sync_wal);
        assert_eq!(c.limits.seal_idle_secs, 5);
        assert_eq!(c.limits.max_partitions, 7);
        assert_eq!(c.limits.index_build_max_bytes, 1000);
        assert!(c.auth.enabled);
        assert_eq!(c.filter.to_filter().max_expr_bytes, 100);
        assert_eq!(c.filter.to_filter().max_depth, 7);
        assert_eq!(
            c.filter.max_predicates,
            quiver_filter::Limits::DEFAULT.max_predicates
        );
        assert!(toml::from_str::<Config>("bogus = 1").is_err());
        assert_eq!(Config::default().port, 19530);
    }
}
