//! Search parameters as pymilvus sends them (flat key-value pairs plus a nested
//! `params` JSON), checked the way Milvus 2.6 checks them before any work starts.
//!
//! Every number here comes from the client, and some of them size allocations
//! further down (`ef` is the length of the HNSW candidate list, `topk` of the
//! result heaps), so each is range-checked at this edge with Milvus's messages:
//! knowhere's `param 'ef' (X) should be in range [1, 2147483647]` and
//! `ef(X) should be larger than k(Y)`, the proxy's `topk`/`nq`/`round_decimal`
//! rules, and finite, consistent `radius`/`range_filter` for range search.

use quiver_index::Metric;

use super::{kv_get, MAX_TOPK};
use crate::proto::common::KeyValuePair;
use quiver_engine::error::{
    invalid, merr, parameter_invalid, parameter_invalid_msg, refuse, Result,
};

/// Largest number of query vectors in one request (Milvus's `maxNQ`).
pub const MAX_NQ: usize = 16_384;
/// Largest `group_size` (Milvus's `proxy.maxGroupSize`).
pub const MAX_GROUP_SIZE: i64 = 10;
/// Largest IVF `nlist` / `nprobe` (knowhere's range).
pub const MAX_NLIST: i64 = 65_536;
/// Range of every int-typed knowhere search parameter (`ef`): a C++ `int`.
pub const KNOWHERE_INT_MAX: i64 = i32::MAX as i64;

/// Search parameters after validation.
pub struct Params {
    pub topk: usize,
    pub offset: usize,
    pub round_decimal: i64,
    pub metric: Option<String>,
    pub anns_field: Option<String>,
    /// `ef` as the client gave it (already in `[1, 2^31-1]`).
    pub ef: Option<usize>,
    pub radius: Option<f32>,
    pub range_filter: Option<f32>,
    pub group_by: Option<String>,
    pub group_size: usize,
    pub ignore_growing: bool,
    /// Search iterator V2 state sent back by pymilvus (`search_iter_v2`).
    pub iter_v2: Option<IterV2>,
    /// Share of a sparse query's smallest values ignored, in [0, 1).
    pub drop_ratio_search: f32,
}

/// One page request of pymilvus's search iterator V2: the next hits strictly
/// worse than `last_bound` (the previous page's last score), `limit` of them.
#[derive(Debug, Clone, PartialEq)]
pub struct IterV2 {
    /// The iterator's id, fixed after the first page ("" on the first).
    pub token: String,
    /// The previous page's last score (None on the first page).
    pub last_bound: Option<f32>,
}

impl Params {
    /// Whether this is a range search.
    pub fn is_range(&self) -> bool {
        self.radius.is_some() || self.range_filter.is_some()
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Python's repr of a float, which is what the client wrote.
            if f.fract() == 0.0 && f.abs() < 1e16 {
                format!("{f:.1}")
            } else {
                format!("{f}")
            }
        }
        other => other.to_string(),
    }
}

/// An int-typed knowhere parameter: integers, or strings holding one (Milvus
/// converts those), never floats, booleans, null or lists.
fn knowhere_int(key: &str, v: &serde_json::Value, max: i64) -> Result<i64> {
    let conflict = || {
        invalid(format!(
            "Type conflict in json: param '{key}' ({}) should be integer",
            json_text(v)
        ))
    };
    let n = match v {
        serde_json::Value::Number(n) => n.as_i64().ok_or_else(|| {
            if n.is_f64() {
                conflict()
            } else {
                // An integer beyond i64 is out of range rather than mistyped.
                invalid(format!("param '{key}' ({n}) should be in range [1, {max}]"))
            }
        })?,
        serde_json::Value::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => n,
            Err(_) if s.trim().parse::<f64>().is_ok() => {
                return Err(invalid(format!(
                    "param '{key}' ({s}) should be in range [1, {max}]"
                )))
            }
            Err(_) => return Err(conflict()),
        },
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
            return Err(invalid(format!("param '{key}' ({v}) should be integer")))
        }
        _ => return Err(conflict()),
    };
    if !(1..=max).contains(&n) {
        return Err(invalid(format!(
            "param '{key}' ({n}) should be in range [1, {max}]"
        )));
    }
    Ok(n)
}

/// A float parameter (`radius`, `range_filter`): a finite number or a string holding one.
fn finite_float(key: &str, v: &serde_json::Value) -> Result<f32> {
    let x = match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        invalid(format!(
            "Type conflict in json: param '{key}' ({}) should be a number",
            json_text(v)
        ))
    })?;
    let f = x as f32;
    if !f.is_finite() {
        return Err(invalid(format!(
            "param '{key}' ({x}) should be a finite number"
        )));
    }
    Ok(f)
}

/// Parses and checks the request's search parameters.
pub fn parse(kvs: &[KeyValuePair]) -> Result<Params> {
    let num = |key: &str, default: i64| -> Result<i64> {
        match kv_get(kvs, key) {
            None | Some("") => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map_err(|_| invalid(format!("{key} [{v}] is invalid, should be an integer"))),
        }
    };
    let topk = num("topk", -1)?;
    if topk <= 0 || topk > MAX_TOPK as i64 {
        return Err(invalid(format!(
            "topk [{topk}] is invalid, it should be in range [1, {MAX_TOPK}]"
        )));
    }
    let offset = num("offset", 0)?;
    if !(0..=MAX_TOPK as i64).contains(&offset) {
        return Err(invalid(format!(
            "offset [{offset}] is invalid, it should be in range [0, {MAX_TOPK}]"
        )));
    }
    if topk + offset > MAX_TOPK as i64 {
        return Err(invalid(format!(
            "topk + offset should be in range [1, {MAX_TOPK}], but got {}",
            topk + offset
        )));
    }
    let round_decimal = num("round_decimal", -1)?;
    if round_decimal != -1 && !(0..=6).contains(&round_decimal) {
        return Err(invalid(format!(
            "round_decimal {round_decimal} is invalid, should be -1 or an integer in range [0, 6]"
        )));
    }
    let json: serde_json::Value = match kv_get(kvs, "params") {
        None | Some("") => serde_json::Value::Null,
        Some(v) => serde_json::from_str(v)
            .map_err(|e| invalid(format!("search params is not valid JSON: {e}")))?,
    };
    let metric = kv_get(kvs, "metric_type")
        .map(str::to_string)
        .or_else(|| {
            json.get("metric_type")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .filter(|s| !s.is_empty());
    // `ef` may sit in the nested JSON (pymilvus's usual form) or flat.
    let ef = match json.get("ef") {
        Some(v) => Some(knowhere_int("ef", v, KNOWHERE_INT_MAX)?),
        None => match kv_get(kvs, "ef") {
            Some(s) => Some(knowhere_int(
                "ef",
                &serde_json::Value::String(s.into()),
                KNOWHERE_INT_MAX,
            )?),
            None => None,
        },
    };
    // IVF-family parameters are served by the graph, but still checked as
    // knowhere checks them, so a request valid here is valid on Milvus.
    if let Some(v) = json.get("nprobe") {
        knowhere_int("nprobe", v, MAX_NLIST)?;
    }
    let radius = json
        .get("radius")
        .map(|v| finite_float("radius", v))
        .transpose()?;
    let range_filter = json
        .get("range_filter")
        .map(|v| finite_float("range_filter", v))
        .transpose()?;
    // Milvus's proxy: a range search is one with `radius`; `range_filter`
    // alone would silently be a plain top-k search.
    if radius.is_none() && json.get("range_filter").is_some() {
        return Err(parameter_invalid(
            "range_filter",
            "",
            "range_filter requires radius to be set; range_filter alone is not a valid range search parameter",
        ));
    }
    let drop_ratio_search = json
        .get("drop_ratio_search")
        .map(|v| drop_ratio("drop_ratio_search", v))
        .transpose()?
        .unwrap_or(0.0);
    let group_size = num("group_size", 1)?;
    if group_size > MAX_GROUP_SIZE {
        return Err(invalid(format!(
            "input group size:{group_size} exceeds configured max group size:{MAX_GROUP_SIZE}"
        )));
    }
    Ok(Params {
        topk: topk as usize,
        offset: offset as usize,
        round_decimal,
        metric,
        anns_field: kv_get(kvs, "anns_field")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        ef: ef.map(|e| e as usize),
        radius,
        range_filter,
        group_by: kv_get(kvs, "group_by_field")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        group_size: group_size.max(1) as usize,
        ignore_growing: ignore_growing(kvs)?,
        iter_v2: iter_v2(kvs)?,
        drop_ratio_search,
    })
}

/// A drop ratio (`drop_ratio_search`, `drop_ratio_build`): a number, or a
/// string holding one, in knowhere's range [0, 1).
pub fn drop_ratio(key: &str, v: &serde_json::Value) -> Result<f32> {
    let x = match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        invalid(format!(
            "Type conflict in json: param '{key}' ({}) should be a number",
            json_text(v)
        ))
    })?;
    if !(0.0..1.0).contains(&x) {
        return Err(invalid(format!(
            "param '{key}' ({x}) should be in range [0.000000, 1.000000)"
        )));
    }
    Ok(x as f32)
}

/// The `drop_ratio_build` of a sparse index's stored parameters (flat, or in
/// the nested `params` JSON as pymilvus sends it), 0 when absent.
pub fn index_drop_ratio_build(params: &[(String, String)]) -> f32 {
    let flat = params
        .iter()
        .find(|(k, _)| k == "drop_ratio_build")
        .map(|(_, v)| serde_json::Value::String(v.clone()));
    let nested = || {
        params
            .iter()
            .find(|(k, _)| k == "params")
            .and_then(|(_, v)| serde_json::from_str::<serde_json::Value>(v).ok())
            .and_then(|j| j.get("drop_ratio_build").cloned())
    };
    flat.or_else(nested)
        .and_then(|v| drop_ratio("drop_ratio_build", &v).ok())
        .unwrap_or(0.0)
}

/// `ignore_growing` of a search or a query as Milvus reads both
/// (`isIgnoreGrowing`: Go's `strconv.ParseBool`, anything else refused).
pub fn ignore_growing(kvs: &[KeyValuePair]) -> Result<bool> {
    match kv_get(kvs, "ignore_growing") {
        None => Ok(false),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(_) => Err(parameter_invalid_msg("parse ignore growing field failed")),
    }
}

/// The `search_iter_*` keys of a search iterator V2 page, checked as Milvus's
/// proxy checks them.
fn iter_v2(kvs: &[KeyValuePair]) -> Result<Option<IterV2>> {
    let on = |k: &str| kv_get(kvs, k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !on("search_iter_v2") {
        return Ok(None);
    }
    if !on("iterator") {
        return Err(parameter_invalid_msg(
            "both iterator and search_iter_v2 must be set to true",
        ));
    }
    if kv_get(kvs, "search_iter_batch_size").is_none() {
        return Err(parameter_invalid_msg("batch size is required"));
    }
    let last_bound = match kv_get(kvs, "search_iter_last_bound") {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<f32>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| {
                    parameter_invalid_msg(format!("failed to parse input last bound: {v}"))
                })?,
        ),
    };
    Ok(Some(IterV2 {
        token: kv_get(kvs, "search_iter_id").unwrap_or("").to_string(),
        last_bound,
    }))
}

/// The checks that need the index and metric: knowhere's `ef >= k` for graph
/// indexes (not for range search, which has no k), and a `range_filter` on the
/// right side of `radius` for the metric's direction.
pub fn check_against_index(p: &Params, metric: Metric, graph: bool) -> Result<()> {
    let k = p.topk + p.offset;
    if let (Some(ef), true, false) = (p.ef, graph, p.is_range()) {
        if ef < k {
            return Err(invalid(format!("ef({ef}) should be larger than k({k})")));
        }
    }
    if let (Some(radius), Some(rf)) = (p.radius, p.range_filter) {
        // Segcore's CheckRangeSearchParam, a plain (65535) error in Milvus.
        let wrong = match metric {
            Metric::L2 if rf >= radius => Some("less"),
            Metric::Ip | Metric::Cosine if rf <= radius => Some("greater"),
            _ => None,
        };
        if let Some(side) = wrong {
            return Err(refuse(
                merr::UNEXPECTED,
                format!(
                    "metric type ({}), range_filter({rf}) must be {side} than radius({radius})",
                    metric.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// Milvus's bound on the number of query vectors.
pub fn check_nq(nq: usize) -> Result<()> {
    if nq == 0 || nq > MAX_NQ {
        return Err(invalid(format!(
            "nq ({nq}) should be in range [1, {MAX_NQ}]"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kvs(pairs: &[(&str, &str)]) -> Vec<KeyValuePair> {
        pairs
            .iter()
            .map(|(k, v)| KeyValuePair {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect()
    }

    fn with_params(json: &str) -> Result<Params> {
        parse(&kvs(&[("topk", "10"), ("params", json)]))
    }

    fn err(r: Result<Params>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn ef_is_range_and_type_checked() {
        assert_eq!(
            with_params(r#"{"ef": 64}"#).map(|p| p.ef).ok(),
            Some(Some(64))
        );
        assert_eq!(
            with_params(r#"{"ef": "32"}"#).map(|p| p.ef).ok(),
            Some(Some(32))
        );
        for big in ["2147483648", "1099511627776", "4611686018427387904", "1e30"] {
            let e = err(with_params(&format!(r#"{{"ef": {big}}}"#)));
            assert!(
                e.contains("should be in range [1, 2147483647]") || e.contains("should be integer"),
                "{big}: {e}"
            );
        }
        let e = err(with_params(r#"{"ef": -1}"#));
        assert!(
            e.contains("param 'ef' (-1) should be in range [1, 2147483647]"),
            "{e}"
        );
        let e = err(with_params(r#"{"ef": 32.0}"#));
        assert!(
            e.contains("Type conflict in json: param 'ef' (32.0) should be integer"),
            "{e}"
        );
        for bad in [r#""abc""#, "true", "null"] {
            let e = err(with_params(&format!(r#"{{"ef": {bad}}}"#)));
            assert!(e.contains("should be integer"), "{bad}: {e}");
        }
        let e = err(with_params(r#"{"ef": [32]}"#));
        assert!(e.contains("param 'ef' ([32]) should be integer"), "{e}");
    }

    #[test]
    fn search_iterator_v2_pages_are_parsed() {
        let kv = |k: &str, v: &str| KeyValuePair {
            key: k.into(),
            value: v.into(),
        };
        let base = vec![kv("topk", "10"), kv("params", "{}")];
        assert_eq!(parse(&base).expect("plain").iter_v2, None);
        let mut first = base.clone();
        first.extend([
            kv("iterator", "True"),
            kv("search_iter_v2", "True"),
            kv("search_iter_batch_size", "10"),
        ]);
        let it = parse(&first).expect("first page").iter_v2.expect("v2");
        assert_eq!((it.token.as_str(), it.last_bound), ("", None));
        let mut next = first.clone();
        next.extend([
            kv("search_iter_last_bound", "0.25"),
            kv("search_iter_id", "t-1"),
        ]);
        let it = parse(&next).expect("next page").iter_v2.expect("v2");
        assert_eq!((it.token.as_str(), it.last_bound), ("t-1", Some(0.25)));
        let mut bad = first.clone();
        bad.push(kv("search_iter_last_bound", "nan"));
        assert!(parse(&bad).is_err());
        let no_iter: Vec<_> = first
            .iter()
            .filter(|p| p.key != "iterator")
            .cloned()
            .collect();
        assert!(parse(&no_iter).is_err());
    }

    #[test]
    fn ef_must_cover_k_on_graphs_only() {
        let p = with_params(r#"{"ef": 5}"#).expect("parse");
        let e = check_against_index(&p, Metric::L2, true).expect_err("ef < k");
        assert!(e.to_string().contains("ef(5) should be larger than k(10)"));
        assert!(check_against_index(&p, Metric::L2, false).is_ok());
    }

    #[test]
    fn range_params_must_be_finite_and_ordered() {
        for bad in ["NaN", "Infinity", r#""nan""#, r#""abc""#, "1e39"] {
            assert!(
                with_params(&format!(r#"{{"radius": {bad}}}"#)).is_err(),
                "{bad}"
            );
        }
        let p = with_params(r#"{"radius": 1.0, "range_filter": 10.0}"#).expect("parse");
        let e = check_against_index(&p, Metric::L2, true).expect_err("L2 rf > radius");
        assert_eq!(
            e.status_parts().2,
            "metric type (L2), range_filter(10) must be less than radius(1)"
        );
        assert_eq!(e.status_parts().0, 65535);
        assert!(check_against_index(&p, Metric::Cosine, true).is_ok());
        let p = with_params(r#"{"radius": 0.5, "range_filter": 0.2}"#).expect("parse");
        let e = check_against_index(&p, Metric::Ip, true).expect_err("IP rf < radius");
        assert_eq!(
            e.status_parts().2,
            "metric type (IP), range_filter(0.2) must be greater than radius(0.5)"
        );
        assert!(check_against_index(&p, Metric::L2, true).is_ok());
        let e = err(with_params(r#"{"range_filter": 0.5}"#));
        assert_eq!(
            e,
            "range_filter requires radius to be set; range_filter alone is not a valid \
             range search parameter: invalid parameter[expected=range_filter][actual=]"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 500, ..Default::default() })]

        /// Any parameter text gives parameters inside Milvus's ranges or an
        /// invalid-parameter error; never a panic.
        #[test]
        fn any_parameter_text_is_checked(
            key in proptest::sample::select(vec!["topk", "offset", "round_decimal", "group_size", "ef", "params"]),
            value in "\\PC{0,24}",
            json_key in proptest::sample::select(vec!["ef", "radius", "range_filter", "nprobe"]),
            json_value in proptest::sample::select(vec![
                "1", "-1", "0", "2147483647", "2147483648", "1e30", "1e400", "\"abc\"", "\"12\"",
                "true", "null", "[1]", "{}", "3.5", "-0.0", "99999999999999999999999",
            ]),
        ) {
            let params = format!("{{\"{json_key}\": {json_value}}}");
            let mut pairs = vec![("topk", "10".to_string()), ("params", params)];
            pairs.push((key, value));
            let kv: Vec<KeyValuePair> = pairs
                .iter()
                .map(|(k, v)| KeyValuePair { key: k.to_string(), value: v.clone() })
                .collect();
            match parse(&kv) {
                Ok(p) => {
                    proptest::prop_assert!(p.topk >= 1 && p.topk + p.offset <= MAX_TOPK);
                    proptest::prop_assert!(p.ef.is_none_or(|e| (1..=KNOWHERE_INT_MAX as usize).contains(&e)));
                    proptest::prop_assert!(p.radius.is_none_or(f32::is_finite));
                    proptest::prop_assert!(p.range_filter.is_none_or(f32::is_finite));
                    proptest::prop_assert!(p.group_size as i64 <= MAX_GROUP_SIZE);
                }
                Err(e) => proptest::prop_assert_eq!(e.status_parts().0, 1100),
            }
        }
    }

    #[test]
    fn topk_offset_round_decimal_group_size() {
        assert!(parse(&kvs(&[("topk", "16385")])).is_err());
        assert!(parse(&kvs(&[("topk", "0")])).is_err());
        assert!(parse(&kvs(&[("topk", "10"), ("offset", "-1")])).is_err());
        assert!(parse(&kvs(&[("topk", "10"), ("offset", "16380")])).is_err());
        assert!(parse(&kvs(&[("topk", "10"), ("round_decimal", "7")])).is_err());
        assert!(parse(&kvs(&[("topk", "10"), ("round_decimal", "6")])).is_ok());
        assert!(parse(&kvs(&[("topk", "10"), ("group_size", "11")])).is_err());
        assert!(check_nq(0).is_err() && check_nq(MAX_NQ + 1).is_err() && check_nq(1).is_ok());
    }
}
