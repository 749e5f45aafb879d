//! Rankers that fuse the hits of several searches (hybrid search) or rescore
//! the hits of one (a plain search with `ranker=Function(...)`), with Milvus
//! 2.6's formulas so that a fused list equals what Milvus returns:
//!
//! - **RRF**: `Σ 1 / (k + rank)` over the lists a hit appears in, ranks from 1.
//! - **Weighted**: `Σ wᵢ · sᵢ`, where `sᵢ` is the raw score, or with
//!   `norm_score` the score mapped to [0, 1] per metric (IP `0.5 + atan(s)/π`,
//!   COSINE `(1 + s)/2`, L2 `1 − 2·atan(d)/π`, BM25 `2·atan(s)/π`). Mixed
//!   directions without normalisation turn distances around with the L2 map;
//!   lists that are all L2 keep "smaller is better".
//! - **Decay** (`gauss`, `exp`, `linear` around `origin` with `scale`,
//!   `offset`, `decay`): the merged score (max, sum or avg of the lists, made
//!   "larger is better") times the decay of the hit's numeric field; a null
//!   field decays to 0.
//!
//! Ties are broken by primary key, ascending, as Milvus does. The arithmetic is
//! in `f32` where Milvus's is, so scores match to the last bit where they can.

use std::collections::HashMap;
use std::f32::consts::PI;

use quiver_engine::error::{merr, parameter_invalid, parameter_invalid_msg, refuse, Result};
use quiver_index::Metric;
use quiver_storage::{CollectionSchema, DataType};
use quiver_types::PkValue;

use super::kv_get;
use crate::proto::common::KeyValuePair;
use crate::proto::schema as s;

/// Default `k` of RRF (Milvus's and the paper's).
const DEFAULT_RRF_K: f64 = 60.0;
/// Largest RRF `k` (exclusive), Milvus's bound.
const MAX_RRF_K: f64 = 16_384.0;

/// How a decay ranker merges a hit's scores from several lists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoreMode {
    Max,
    Sum,
    Avg,
}

/// The shape of a decay curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DecayFn {
    Gauss,
    Exp,
    Linear,
}

/// A decay ranker's curve around `origin`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decay {
    pub func: DecayFn,
    pub origin: f64,
    pub scale: f64,
    pub offset: f64,
    pub decay: f64,
}

impl Decay {
    /// The factor in (0, 1] a value `x` is scaled by.
    pub fn factor(&self, x: f64) -> f64 {
        let d = ((x - self.origin).abs() - self.offset).max(0.0);
        match self.func {
            DecayFn::Gauss => {
                let sigma2 = self.scale.powi(2) / self.decay.ln();
                (d.powi(2) / sigma2).exp()
            }
            DecayFn::Exp => (self.decay.ln() / self.scale * d).exp(),
            DecayFn::Linear => {
                let slope = (1.0 - self.decay) / self.scale;
                (1.0 - slope * d).max(self.decay)
            }
        }
    }
}

/// A ranker, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Ranker {
    Rrf {
        k: f64,
    },
    Weighted {
        weights: Vec<f64>,
        norm: bool,
    },
    Decay {
        curve: Decay,
        /// The numeric field the curve reads.
        field: String,
        mode: ScoreMode,
        norm: bool,
    },
}

impl Ranker {
    /// The field whose value each hit must carry (the decay's input).
    pub fn input_field(&self) -> Option<&str> {
        match self {
            Ranker::Decay { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Checks the ranker against the number of lists it fuses.
    pub fn check_inputs(&self, n: usize) -> Result<()> {
        match self {
            Ranker::Weighted { weights, .. } if weights.len() != n => Err(parameter_invalid(
                n,
                weights.len(),
                "the length of weights param mismatch with ann search requests",
            )),
            _ => Ok(()),
        }
    }
}

/// The ranker of a hybrid search's legacy `rank_params` (`strategy` and a
/// JSON `params`, as pymilvus's `RRFRanker`/`WeightedRanker` send them);
/// RRF with k = 60 when none is named.
pub fn from_rank_params(kvs: &[KeyValuePair]) -> Result<Ranker> {
    let strategy = kv_get(kvs, "strategy").unwrap_or("rrf").to_lowercase();
    let params: serde_json::Map<String, serde_json::Value> = match kv_get(kvs, "params") {
        None => serde_json::Map::new(),
        Some(v) => serde_json::from_str(v).map_err(|e| {
            parameter_invalid_msg(format!(
                "rerank_builder: parse rerank params failed: {e}: invalid parameter"
            ))
        })?,
    };
    match strategy.as_str() {
        "rrf" => {
            let k = match params.get("k") {
                None => DEFAULT_RRF_K,
                Some(v) => v.as_f64().ok_or_else(|| {
                    parameter_invalid_msg(
                        "rerank_builder: the type of rank param k should be float: invalid parameter",
                    )
                })?,
            };
            rrf(k)
        }
        "weighted" => {
            let weights = match params.get("weights") {
                None => Vec::new(),
                Some(v) => weights(&v.to_string())?,
            };
            let norm = match params.get("norm_score") {
                None => false,
                Some(serde_json::Value::Bool(b)) => *b,
                Some(serde_json::Value::String(s)) => go_bool(s).ok_or_else(norm_type)?,
                Some(_) => return Err(norm_type()),
            };
            weighted(weights, norm)
        }
        other => Err(parameter_invalid_msg(format!(
            "rerank_builder: unsupported rank type {other}: invalid parameter"
        ))),
    }
}

fn norm_type() -> quiver_engine::error::QuiverError {
    parameter_invalid_msg(
        "rerank_builder: the type of rank param norm_score should be bool: invalid parameter",
    )
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn rrf(k: f64) -> Result<Ranker> {
    if !(k > 0.0 && k < MAX_RRF_K) {
        return Err(parameter_invalid_msg(format!(
            "The rank params k should be in range (0, {})",
            MAX_RRF_K as i64
        )));
    }
    Ok(Ranker::Rrf { k })
}

fn weights(json: &str) -> Result<Vec<f64>> {
    let ws: Vec<f64> = serde_json::from_str(json)
        .map_err(|e| parameter_invalid_msg(format!("failed to parse weights: {e}")))?;
    if ws.iter().any(|w| !(0.0..=1.0).contains(w)) {
        return Err(parameter_invalid_msg(
            "rank param weight should be in range [0, 1]",
        ));
    }
    Ok(ws)
}

fn weighted(weights: Vec<f64>, norm: bool) -> Result<Ranker> {
    if weights.is_empty() {
        return Err(parameter_invalid_msg(
            "rerank_builder: weighted reranker requires weights parameter",
        ));
    }
    Ok(Ranker::Weighted { weights, norm })
}

/// The ranker of a request's `function_score` (pymilvus's
/// `ranker=Function(type=RERANK, ...)`), None when it holds no function.
pub fn from_function_score(
    schema: &CollectionSchema,
    fs: Option<&s::FunctionScore>,
) -> Result<Option<Ranker>> {
    let Some(fs) = fs.filter(|fs| !fs.functions.is_empty()) else {
        return Ok(None);
    };
    if fs.functions.len() > 1 {
        return Err(parameter_invalid_msg(
            "rerank_builder: currently only supports one rerank function",
        ));
    }
    let f = &fs.functions[0];
    if f.r#type != s::FunctionType::Rerank as i32 {
        return Err(parameter_invalid_msg(format!(
            "{} is not rerank function, but {}",
            f.name,
            s::FunctionType::try_from(f.r#type)
                .map(|t| t.as_str_name())
                .unwrap_or("Unknown")
        )));
    }
    let get = |key: &str| {
        f.params
            .iter()
            .find(|kv| kv.key.eq_ignore_ascii_case(key))
            .map(|kv| kv.value.as_str())
    };
    let name = get("reranker").unwrap_or("").to_lowercase();
    let ranker = match name.as_str() {
        "" => {
            return Err(refuse(
                merr::PARAMETER_MISSING,
                "rerank_builder: reranker name not specified: missing parameter".into(),
            ))
        }
        "rrf" => match get("k") {
            None => rrf(DEFAULT_RRF_K)?,
            Some(v) => rrf(v
                .trim()
                .parse()
                .map_err(|_| parameter_invalid_msg(format!("{v} is not a number")))?)?,
        },
        "weighted" => {
            let ws = get("weights").map(weights).transpose()?.unwrap_or_default();
            let norm = match get("norm_score") {
                None => false,
                Some(v) => go_bool(v).ok_or_else(|| {
                    parameter_invalid_msg(format!(
                        "failed to parse norm_score: strconv.ParseBool: parsing {v:?}: invalid syntax"
                    ))
                })?,
            };
            weighted(ws, norm)?
        }
        "decay" => decay(schema, f, &get)?,
        "model" => {
            return Err(parameter_invalid_msg(
                "rerank_builder: the model reranker calls an external model service, which Quiver does not; use rrf, weighted or decay",
            ))
        }
        "boost" => {
            return Err(parameter_invalid_msg(
                "rerank_builder: the boost scorer is not supported by Quiver; use rrf, weighted or decay",
            ))
        }
        other => {
            return Err(parameter_invalid_msg(format!(
                "rerank_builder: unsupported reranker {other}"
            )))
        }
    };
    Ok(Some(ranker))
}

fn decay<'a>(
    schema: &CollectionSchema,
    f: &s::FunctionSchema,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Ranker> {
    let missing = |what: &str| {
        refuse(
            merr::PARAMETER_MISSING,
            format!("decay {what} not specified: missing parameter"),
        )
    };
    let number = |key: &str| -> Result<Option<f64>> {
        get(key)
            .map(|v| {
                v.trim().parse::<f64>().map_err(|_| {
                    parameter_invalid_msg(format!("decay param {key}: {v} is not a number"))
                })
            })
            .transpose()
    };
    let func = match get("function").map(str::to_lowercase) {
        None => return Err(missing("function")),
        Some(name) => match name.as_str() {
            "gauss" => DecayFn::Gauss,
            "exp" => DecayFn::Exp,
            "linear" => DecayFn::Linear,
            _ => {
                return Err(parameter_invalid_msg(format!(
                    "rerank_builder: decay: invalid function \"{name}\", must be one of [gauss, exp, linear]"
                )))
            }
        },
    };
    let origin = number("origin")?.ok_or_else(|| missing("origin"))?;
    let scale = number("scale")?.ok_or_else(|| missing("scale"))?;
    let offset = number("offset")?.unwrap_or(0.0);
    let decay = number("decay")?.unwrap_or(0.5);
    let norm = get("norm_score").and_then(go_bool).unwrap_or(false);
    let mode = match get("score_mode").map(str::to_lowercase).as_deref() {
        None | Some("max") => ScoreMode::Max,
        Some("sum") => ScoreMode::Sum,
        Some("avg") => ScoreMode::Avg,
        Some(other) => {
            return Err(parameter_invalid_msg(format!(
                "unsupported score_mode: {other}, only supports [max, sum, avg]"
            )))
        }
    };
    if f.input_field_names.len() != 1 {
        return Err(parameter_invalid_msg(format!(
            "rerank_builder: decay reranker requires exactly 1 input field, got {}",
            f.input_field_names.len()
        )));
    }
    let field = &f.input_field_names[0];
    match schema.field(field) {
        None => {
            return Err(parameter_invalid_msg(format!(
                "rerank_builder: input field {field} not found in collection schema"
            )))
        }
        Some(fs)
            if !matches!(
                fs.data_type,
                DataType::Int8
                    | DataType::Int16
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::Float
                    | DataType::Double
            ) =>
        {
            return Err(parameter_invalid_msg(format!(
                "rerank_builder: decay input field {field} must be numeric, got {:?}",
                fs.data_type
            )))
        }
        Some(_) => {}
    }
    let bad = |msg: String| parameter_invalid_msg(format!("rerank_builder: decay: {msg}"));
    if scale <= 0.0 {
        return Err(bad(format!("scale must be > 0, got {scale:.6}")));
    }
    if offset < 0.0 {
        return Err(bad(format!("offset must be >= 0, got {offset:.6}")));
    }
    if decay <= 0.0 || decay >= 1.0 {
        return Err(bad(format!("decay must be 0 < decay < 1, got {decay:.6}")));
    }
    if !(0.001..=0.999).contains(&decay) {
        return Err(bad(format!(
            "decay must be between 0.001000 and 0.999000 for numerical stability, got {decay:.6}"
        )));
    }
    Ok(Ranker::Decay {
        curve: Decay {
            func,
            origin,
            scale,
            offset,
            decay,
        },
        field: field.clone(),
        mode,
        norm,
    })
}

/// One hit of one input list.
#[derive(Debug, Clone)]
pub struct Hit {
    pub pk: PkValue,
    /// The Milvus score (distance for L2).
    pub score: f32,
    /// The decay field's value, when the ranker reads one (None: null).
    pub value: Option<f64>,
}

/// A fused hit: its key, its fused score and where its row was first seen
/// (input list, position in it) so the caller can fetch its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub pk: PkValue,
    pub score: f32,
    pub input: usize,
    pub row: usize,
}

/// Full normalisation of a score to [0, 1], larger is better.
fn normalize(metric: Metric, s: f32) -> f32 {
    match metric {
        Metric::Cosine => (1.0 + s) * 0.5,
        Metric::Ip => 0.5 + ((s as f64).atan() as f32) / PI,
        Metric::L2 => to_larger_better(s),
    }
}

/// A distance turned "larger is better" (Milvus's direction conversion).
fn to_larger_better(d: f32) -> f32 {
    1.0 - 2.0 * ((d as f64).atan() as f32) / PI
}

/// Fuses `inputs` (one ranked hit list per search, for one query), searched
/// with `metrics`. Returns the hits best first and whether "best" is the
/// largest score (false only for unnormalised weighted fusion of L2 lists).
pub fn fuse(ranker: &Ranker, inputs: &[Vec<Hit>], metrics: &[Metric]) -> (Vec<Fused>, bool) {
    let mut acc = Acc::default();
    let sum = |a: f32, b: f32| a + b;
    let descending = match ranker {
        Ranker::Rrf { k } => {
            for (i, hits) in inputs.iter().enumerate() {
                for (r, h) in hits.iter().enumerate() {
                    acc.put(&h.pk, (1.0 / (k + (r + 1) as f64)) as f32, i, r, sum);
                }
            }
            true
        }
        Ranker::Weighted { weights, norm } => {
            let larger = metrics.iter().filter(|m| m.higher_is_better()).count();
            let mixed = larger > 0 && larger < metrics.len();
            for (i, hits) in inputs.iter().enumerate() {
                let w = weights.get(i).copied().unwrap_or(0.0) as f32;
                let m = metrics[i];
                for (r, h) in hits.iter().enumerate() {
                    let s = if *norm {
                        normalize(m, h.score)
                    } else if mixed && !m.higher_is_better() {
                        to_larger_better(h.score)
                    } else {
                        h.score
                    };
                    acc.put(&h.pk, w * s, i, r, sum);
                }
            }
            *norm || mixed || larger == metrics.len()
        }
        Ranker::Decay { mode, norm, .. } => {
            let merge: fn(f32, f32) -> f32 = match mode {
                ScoreMode::Max => f32::max,
                ScoreMode::Sum | ScoreMode::Avg => sum,
            };
            for (i, hits) in inputs.iter().enumerate() {
                let m = metrics[i];
                for (r, h) in hits.iter().enumerate() {
                    let s = if *norm {
                        normalize(m, h.score)
                    } else if m.higher_is_better() {
                        h.score
                    } else {
                        to_larger_better(h.score)
                    };
                    acc.put(&h.pk, s, i, r, merge);
                }
            }
            true
        }
    };
    let mut fused: Vec<Fused> = acc
        .order
        .iter()
        .map(|pk| {
            let e = &acc.scores[pk];
            let mut s = e.score;
            if let Ranker::Decay { curve, mode, .. } = ranker {
                if *mode == ScoreMode::Avg {
                    s /= e.count as f32;
                }
                let f = inputs[e.input][e.row]
                    .value
                    .map_or(0.0, |x| curve.factor(x));
                s *= f as f32;
            }
            Fused {
                pk: (*pk).clone(),
                score: s,
                input: e.input,
                row: e.row,
            }
        })
        .collect();
    fused.sort_by(|a, b| {
        let by_score = if descending {
            b.score.total_cmp(&a.score)
        } else {
            a.score.total_cmp(&b.score)
        };
        by_score.then_with(|| a.pk.cmp(&b.pk))
    });
    (fused, descending)
}

/// A hit's running fused score, how many lists it was in, and where it was
/// first seen.
struct Entry {
    score: f32,
    count: usize,
    input: usize,
    row: usize,
}

/// Fused scores by key, keys in first-seen order.
#[derive(Default)]
struct Acc<'a> {
    scores: HashMap<&'a PkValue, Entry>,
    order: Vec<&'a PkValue>,
}

impl<'a> Acc<'a> {
    fn put(
        &mut self,
        pk: &'a PkValue,
        s: f32,
        input: usize,
        row: usize,
        merge: fn(f32, f32) -> f32,
    ) {
        match self.scores.get_mut(pk) {
            Some(e) => {
                e.score = merge(e.score, s);
                e.count += 1;
            }
            None => {
                self.order.push(pk);
                self.scores.insert(
                    pk,
                    Entry {
                        score: s,
                        count: 1,
                        input,
                        row,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(v: &[(i64, f32)]) -> Vec<Hit> {
        v.iter()
            .map(|&(pk, score)| Hit {
                pk: PkValue::Int(pk),
                score,
                value: None,
            })
            .collect()
    }

    fn ids(f: &[Fused]) -> Vec<i64> {
        f.iter()
            .map(|h| match h.pk {
                PkValue::Int(i) => i,
                _ => -1,
            })
            .collect()
    }

    #[test]
    fn rrf_sums_reciprocal_ranks_and_breaks_ties_by_key() {
        let a = hits(&[(1, 0.9), (2, 0.8), (3, 0.7)]);
        let b = hits(&[(3, 5.0), (4, 4.0), (1, 3.0)]);
        let (f, desc) = fuse(&Ranker::Rrf { k: 60.0 }, &[a, b], &[Metric::Ip, Metric::Ip]);
        assert!(desc);
        // 1: 1/61 + 1/63, 3: 1/63 + 1/61 (a tie, key order), 2: 1/62, 4: 1/62.
        assert_eq!(ids(&f), vec![1, 3, 2, 4]);
        let want = (1.0 / 61.0f64) as f32 + (1.0 / 63.0f64) as f32;
        assert_eq!(f[0].score, want);
        assert_eq!((f[1].input, f[1].row), (0, 2));
    }

    #[test]
    fn weighted_normalises_per_metric() {
        let a = hits(&[(1, 0.5)]); // COSINE
        let b = hits(&[(1, 2.0), (2, 0.0)]); // L2
        let r = Ranker::Weighted {
            weights: vec![0.4, 0.6],
            norm: true,
        };
        let (f, desc) = fuse(&r, &[a, b], &[Metric::Cosine, Metric::L2]);
        assert!(desc);
        let s1 = 0.4 * 0.75 + 0.6 * (1.0 - 2.0 * (2.0f64.atan() as f32) / PI);
        assert_eq!(ids(&f), vec![2, 1]);
        assert!((f[1].score - s1).abs() < 1e-6);
        assert!((f[0].score - 0.6).abs() < 1e-6);
    }

    #[test]
    fn weighted_l2_without_normalisation_keeps_smaller_first() {
        let a = hits(&[(1, 3.0), (2, 4.0)]);
        let r = Ranker::Weighted {
            weights: vec![1.0],
            norm: false,
        };
        let (f, desc) = fuse(&r, &[a], &[Metric::L2]);
        assert!(!desc);
        assert_eq!(ids(&f), vec![1, 2]);
        assert_eq!(f[0].score, 3.0);
    }

    #[test]
    fn decay_curves_match_their_definitions() {
        let d = |func| Decay {
            func,
            origin: 100.0,
            scale: 10.0,
            offset: 2.0,
            decay: 0.5,
        };
        // At origin ± offset nothing decays; at scale past the offset, `decay`.
        for func in [DecayFn::Gauss, DecayFn::Exp, DecayFn::Linear] {
            assert!((d(func).factor(101.0) - 1.0).abs() < 1e-12);
            assert!((d(func).factor(112.0) - 0.5).abs() < 1e-12);
            assert!((d(func).factor(88.0) - 0.5).abs() < 1e-12);
        }
        // Linear bottoms out at `decay`, the others keep falling.
        assert!((d(DecayFn::Linear).factor(1000.0) - 0.5).abs() < 1e-12);
        assert!(d(DecayFn::Exp).factor(132.0) < 0.2);
        assert!(d(DecayFn::Gauss).factor(132.0) < d(DecayFn::Exp).factor(132.0));
    }

    #[test]
    fn decay_scales_the_merged_score_and_nulls_sink() {
        let mut a = hits(&[(1, 0.9), (2, 0.8), (3, 0.95)]);
        a[0].value = Some(0.0);
        a[1].value = Some(10.0);
        let r = Ranker::Decay {
            curve: Decay {
                func: DecayFn::Linear,
                origin: 0.0,
                scale: 10.0,
                offset: 0.0,
                decay: 0.5,
            },
            field: "t".into(),
            mode: ScoreMode::Max,
            norm: false,
        };
        let (f, _) = fuse(&r, &[a], &[Metric::Ip]);
        assert_eq!(ids(&f), vec![1, 2, 3]);
        assert_eq!(f[0].score, 0.9);
        assert!((f[1].score - 0.4).abs() < 1e-6);
        assert_eq!(f[2].score, 0.0);
    }

    #[test]
    fn legacy_params_are_validated_as_milvus_does() {
        let kv = |k: &str, v: &str| KeyValuePair {
            key: k.into(),
            value: v.into(),
        };
        assert_eq!(
            from_rank_params(&[kv("strategy", "rrf"), kv("params", r#"{"k": 10}"#)]).ok(),
            Some(Ranker::Rrf { k: 10.0 })
        );
        assert!(from_rank_params(&[kv("strategy", "rrf"), kv("params", r#"{"k": 0}"#)]).is_err());
        assert!(
            from_rank_params(&[kv("strategy", "rrf"), kv("params", r#"{"k": 16384}"#)]).is_err()
        );
        let w = from_rank_params(&[
            kv("strategy", "weighted"),
            kv("params", r#"{"weights": [0.2, 0.8], "norm_score": true}"#),
        ])
        .ok();
        assert_eq!(
            w,
            Some(Ranker::Weighted {
                weights: vec![0.2, 0.8],
                norm: true
            })
        );
        assert!(w.as_ref().is_some_and(|w| w.check_inputs(3).is_err()));
        assert!(from_rank_params(&[
            kv("strategy", "weighted"),
            kv("params", r#"{"weights": [1.5]}"#)
        ])
        .is_err());
        assert!(from_rank_params(&[kv("strategy", "max")]).is_err());
    }
}
