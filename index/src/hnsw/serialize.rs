//! Versioned, checksummed byte format of a built [`Hnsw`], loaded without rebuilding.
//!
//! Layout (little-endian): magic `QVHNSW\0\0`, version `u32`, metric `u32`, storage
//! `u32` (0 = f32, 1 = f16, 2 = i16), then `u64` fields dim, n, m, m0, ef_construction, entry,
//! max_level, upper block count; then levels (`n` bytes), links0 (`n * (m0 + 1)` u32),
//! upper links (`blocks * (m + 1)` u32), vectors (`n * dim` f32 or f16; for i16 `n * dim`
//! i16 codes followed by `n` f32 row scales), then (from
//! version 3) the duplicate groups: `u64` group count `g`, `u64` copy count `c`, `g` u32
//! representatives, `g` u32 group sizes, `c` u32 copies; and a CRC-32 of everything
//! before. The int8 traversal codes are recomputed on load (deterministic). Version 2
//! (no duplicate section) still loads, as an index without groups.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use super::dups::Dups;
use super::graph::{kernel_table, Core, Graph};
use super::{FilterPlan, Hnsw, HnswParams};
use crate::quant::Codes;
use crate::rows::{Rows, VectorStorage};
use crate::{Bitset, IndexError, Metric};

const MAGIC: &[u8; 8] = b"QVHNSW\0\0";
const VERSION: u32 = 3;
/// Oldest version [`Hnsw::from_bytes`] still reads.
const OLDEST: u32 = 2;
const HEADER: usize = 8 + 4 + 4 + 4 + 8 * 8;

impl Hnsw {
    /// Serializes the index (graph and vectors) into a self-contained byte buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let g = &self.core.graph;
        let n = self.len();
        let blocks = g.upper.len() / (g.m + 1);
        let mut out = Vec::with_capacity(HEADER + self.memory_bytes() + 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.metric().code() as u32).to_le_bytes());
        out.extend_from_slice(&self.storage().code().to_le_bytes());
        for v in [
            self.dim(),
            n,
            g.m,
            g.m0,
            self.params.ef_construction,
            self.entry as usize,
            self.max_level,
            blocks,
        ] {
            out.extend_from_slice(&(v as u64).to_le_bytes());
        }
        out.extend_from_slice(&g.levels);
        for w in g.links0.iter().chain(&g.upper) {
            out.extend_from_slice(&w.load(Relaxed).to_le_bytes());
        }
        match &self.core.rows {
            Rows::F32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Rows::F16(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Rows::I16(c, s) => {
                c.iter()
                    .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
                s.iter()
                    .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
            }
        }
        let dups = &self.core.dups;
        let groups: Vec<(u32, &[u32])> = dups.groups().collect();
        out.extend_from_slice(&(groups.len() as u64).to_le_bytes());
        out.extend_from_slice(&(dups.all_copies().len() as u64).to_le_bytes());
        for w in groups
            .iter()
            .map(|g| g.0)
            .chain(groups.iter().map(|g| g.1.len() as u32))
            .chain(groups.iter().flat_map(|g| g.1.iter().copied()))
        {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Loads an index written by [`Hnsw::to_bytes`], validating checksum and structure.
    pub fn from_bytes(bytes: &[u8]) -> Result<Hnsw, IndexError> {
        let corrupt = |m: &str| IndexError::Corrupt(m.to_string());
        if bytes.len() < HEADER + 4 || &bytes[..8] != MAGIC {
            return Err(corrupt("not an HNSW index (bad magic or too short)"));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 4);
        let want = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        if crc32fast::hash(body) != want {
            return Err(corrupt("checksum mismatch"));
        }
        let u32_at =
            |o: usize| u32::from_le_bytes([body[o], body[o + 1], body[o + 2], body[o + 3]]);
        let version = u32_at(8);
        if !(OLDEST..=VERSION).contains(&version) {
            return Err(IndexError::Corrupt(format!(
                "unsupported version {version}"
            )));
        }
        let metric = Metric::from_code(u32_at(12) as u8).ok_or_else(|| corrupt("bad metric"))?;
        let storage = VectorStorage::from_code(u32_at(16)).ok_or_else(|| corrupt("bad storage"))?;
        let width = match storage {
            VectorStorage::F32 => 4,
            VectorStorage::F16 | VectorStorage::I16 => 2,
        };
        let mut f = [0usize; 8];
        for (i, v) in f.iter_mut().enumerate() {
            let o = 20 + 8 * i;
            let mut b = [0u8; 8];
            b.copy_from_slice(&body[o..o + 8]);
            *v = usize::try_from(u64::from_le_bytes(b)).map_err(|_| corrupt("field overflow"))?;
        }
        let [dim, n, m, m0, efc, entry, max_level, blocks] = f;
        if dim == 0 || m < 2 || m0 < m || n >= u32::MAX as usize || (n > 0 && entry >= n) {
            return Err(corrupt("bad header"));
        }
        let words0 = n
            .checked_mul(m0 + 1)
            .ok_or_else(|| corrupt("size overflow"))?;
        let words_up = blocks
            .checked_mul(m + 1)
            .ok_or_else(|| corrupt("size overflow"))?;
        let floats = n.checked_mul(dim).ok_or_else(|| corrupt("size overflow"))?;
        let scales = if storage == VectorStorage::I16 {
            n * 4
        } else {
            0
        };
        let expect = [n, words0 * 4, words_up * 4, floats * width, scales]
            .iter()
            .try_fold(HEADER, |a, b| a.checked_add(*b))
            .ok_or_else(|| corrupt("size overflow"))?;
        if body.len() < expect || (version == OLDEST && body.len() != expect) {
            return Err(corrupt("length does not match header"));
        }
        let mut o = HEADER;
        let levels = body[o..o + n].to_vec();
        o += n;
        let graph = Graph::new(levels, m, m0);
        if graph.upper.len() != words_up
            || (n > 0 && graph.levels[entry] as usize != max_level)
            || graph.levels.iter().any(|&l| l as usize > max_level)
        {
            return Err(corrupt("levels inconsistent with header"));
        }
        let read_words = |dst: &[AtomicU32], o: usize| {
            for (i, w) in dst.iter().enumerate() {
                w.store(u32_at(o + 4 * i), Relaxed);
            }
        };
        read_words(&graph.links0, o);
        o += words0 * 4;
        read_words(&graph.upper, o);
        o += words_up * 4;
        let raw = &body[o..o + floats * width];
        let rows = match storage {
            VectorStorage::F32 => Rows::F32(
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            VectorStorage::F16 => Rows::F16(
                raw.chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect(),
            ),
            VectorStorage::I16 => {
                let s = &body[o + floats * width..o + floats * width + scales];
                let scale: Vec<f32> = s
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                if scale.iter().any(|x| !x.is_finite() || *x < 0.0) {
                    return Err(corrupt("bad i16 row scale"));
                }
                Rows::I16(
                    raw.chunks_exact(2)
                        .map(|c| i16::from_le_bytes([c[0], c[1]]))
                        .collect(),
                    scale,
                )
            }
        };
        o += floats * width + scales;
        let dups = if version == OLDEST {
            Dups::default()
        } else {
            read_dups(body, o, n)?
        };
        check_copies(&graph, &rows, &dups, dim, entry)?;
        validate_links(&graph, &dups)?;
        let kt = kernel_table();
        Ok(Hnsw {
            core: Core {
                dim,
                metric,
                codes: Codes::encode_all(&rows.to_f32(), dim, kt),
                rows,
                graph,
                dups,
                kt,
            },
            entry: entry as u32,
            max_level,
            params: HnswParams {
                m,
                ef_construction: efc,
            },
            plan: FilterPlan::Auto,
        })
    }
}

/// Reads the duplicate section at `o`, which must end exactly at the end of `body`.
fn read_dups(body: &[u8], o: usize, n: usize) -> Result<Dups, IndexError> {
    let corrupt = |m: &str| IndexError::Corrupt(m.to_string());
    let u64_at = |o: usize| -> Result<usize, IndexError> {
        let b = body
            .get(o..o + 8)
            .ok_or_else(|| corrupt("truncated duplicate section"))?;
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        usize::try_from(u64::from_le_bytes(w)).map_err(|_| corrupt("field overflow"))
    };
    let (groups, copies) = (u64_at(o)?, u64_at(o + 8)?);
    let words = groups
        .checked_mul(2)
        .and_then(|g| g.checked_add(copies))
        .filter(|&w| w <= n.saturating_mul(3))
        .ok_or_else(|| corrupt("bad duplicate counts"))?;
    let start = o + 16;
    if body.len() != start + words * 4 {
        return Err(corrupt("length does not match header"));
    }
    let w: Vec<u32> = body[start..]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let (reps, rest) = w.split_at(groups);
    let (counts, ids) = rest.split_at(groups);
    Dups::from_groups(n, reps, counts, ids).map_err(IndexError::Corrupt)
}

/// Copies must be bit-identical to their representative, on level 0 without links, and
/// not the entry point (links *to* them are rejected by [`validate_links`]).
fn check_copies(
    g: &Graph,
    rows: &Rows,
    d: &Dups,
    dim: usize,
    entry: usize,
) -> Result<(), IndexError> {
    for (rep, copies) in d.groups() {
        for &c in copies {
            let unlinked = g.levels[c as usize] == 0 && g.neighbors(c, 0).next().is_none();
            if !unlinked || c as usize == entry || !rows.same_bits(rep, c, dim) {
                return Err(IndexError::Corrupt(format!(
                    "node {c}: not a copy of {rep}"
                )));
            }
        }
    }
    Ok(())
}

fn validate_links(g: &Graph, dups: &Dups) -> Result<(), IndexError> {
    let n = g.len() as u32;
    let copy = Bitset::from_ids(n as usize, dups.all_copies().iter().copied());
    for node in 0..n {
        for level in 0..=g.levels[node as usize] as usize {
            let slot = g.slot(node, level);
            if slot[0].load(Relaxed) as usize > slot.len() - 1 {
                return Err(IndexError::Corrupt(format!("node {node}: too many links")));
            }
            if g.neighbors(node, level)
                .any(|id| id >= n || copy.get(id as usize))
            {
                return Err(IndexError::Corrupt(format!(
                    "node {node}: link out of range"
                )));
            }
        }
    }
    Ok(())
}
