//! Parsing JSON documents for filtering.
//!
//! A filter usually reads a few top-level keys (`metadata["source"]`, dynamic
//! fields such as `color`), so documents are parsed *projected*: only the keys
//! the plan names are materialised and the rest are skipped without allocating.
//! Columns the plan reads whole (`meta is null`, `meta[0]`, `json_contains(meta, ..)`)
//! are parsed in full.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::plan::{PathElem, Pred, Val};

/// A JSON or ARRAY column the plan reads, with the top-level keys it needs
/// (`None` = the whole document).
#[derive(Debug, Clone)]
pub(crate) struct JsonCol {
    pub name: String,
    pub keys: Option<HashSet<String>>,
}

/// The JSON/ARRAY columns `pred` reads and the keys it needs from each.
pub(crate) fn projection(pred: &Pred) -> Vec<JsonCol> {
    let mut cols: HashMap<String, Option<HashSet<String>>> = HashMap::new();
    walk_pred(pred, &mut cols);
    let mut out: Vec<JsonCol> = cols
        .into_iter()
        .map(|(name, keys)| JsonCol { name, keys })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn walk_pred(p: &Pred, cols: &mut HashMap<String, Option<HashSet<String>>>) {
    match p {
        Pred::Const(_) => {}
        Pred::Cmp(_, a, b) => {
            walk_val(a, cols);
            walk_val(b, cols);
        }
        Pred::In(v, _, _)
        | Pred::Like(v, _)
        | Pred::IsNull(v, _)
        | Pred::Exists(v)
        | Pred::Contains(_, v, _)
        | Pred::Truthy(v) => walk_val(v, cols),
        Pred::Not(p) => walk_pred(p, cols),
        Pred::And(ps) | Pred::Or(ps) => ps.iter().for_each(|p| walk_pred(p, cols)),
    }
}

fn walk_val(v: &Val, cols: &mut HashMap<String, Option<HashSet<String>>>) {
    match v {
        Val::Lit(_) | Val::Col(_) => {}
        Val::Path {
            col,
            is_array,
            path,
        } => {
            let entry = cols
                .entry(col.clone())
                .or_insert_with(|| Some(HashSet::new()));
            match (path.first(), is_array) {
                (Some(PathElem::Key(k)), false) => {
                    if let Some(keys) = entry {
                        keys.insert(k.clone());
                    }
                }
                _ => *entry = None,
            }
        }
        Val::Neg(a) | Val::Len(a) => walk_val(a, cols),
        Val::Arith(_, a, b) => {
            walk_val(a, cols);
            walk_val(b, cols);
        }
    }
}

/// Parses one document; unparsable input is `None` (treated as null).
/// With `keys`, only those top-level keys are kept (non-objects become `Null`).
pub(crate) fn parse_doc(bytes: &[u8], keys: Option<&HashSet<String>>) -> Option<Value> {
    let Some(keys) = keys else {
        return serde_json::from_slice(bytes).ok();
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Projection(keys).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

struct Projection<'k>(&'k HashSet<String>);

impl<'de> DeserializeSeed<'de> for Projection<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Projection<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key_seed(KeyFilter(self.0))? {
            match key {
                Some(k) => {
                    let v: Value = map.next_value()?;
                    out.insert(k, v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// Reads an object key, allocating it only when it is one of the wanted keys.
struct KeyFilter<'k>(&'k HashSet<String>);

impl<'de> DeserializeSeed<'de> for KeyFilter<'_> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyFilter<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, v: &str) -> Result<Option<String>, E> {
        Ok(self.0.contains(v).then(|| v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn projected_parse_keeps_only_wanted_keys() {
        let keys: HashSet<String> = ["a".to_string(), "c\"d".to_string()].into();
        let doc = br#"{"a": {"x": [1, 2]}, "b": [1, {"y": "z"}], "c\"d": 3, "a": 5}"#;
        assert_eq!(
            parse_doc(doc, Some(&keys)),
            Some(json!({"a": 5, "c\"d": 3}))
        );
        assert_eq!(parse_doc(b"[1, 2]", Some(&keys)), Some(Value::Null));
        assert_eq!(parse_doc(b"\"s\"", Some(&keys)), Some(Value::Null));
        assert_eq!(parse_doc(b"{\"a\": 1} x", Some(&keys)), None);
        assert_eq!(parse_doc(b"{\"a\": ", Some(&keys)), None);
        assert_eq!(parse_doc(b"[1]", None), Some(json!([1])));
    }
}
