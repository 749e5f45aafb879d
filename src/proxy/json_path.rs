//! JSON path indexes (Milvus 2.5/2.6): the `json_path` of an index on a JSON
//! field or on a dynamic-field key, normalised as Milvus's data coordinator
//! does (`ParseAndVerifyNestedPath`): a JSON pointer below the indexed field.

use quiver_engine::error::{parameter_invalid_msg, Result};

/// The segments of `field['a']["b"][0]`: the leading name, then each key.
fn segments(path: &str) -> Option<(String, Vec<String>)> {
    let path = path.trim();
    let base_end = path.find('[').unwrap_or(path.len());
    let base = path[..base_end].trim().to_string();
    if base.is_empty() {
        return None;
    }
    let mut rest = &path[base_end..];
    let mut keys = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        let raw = inner[..close].trim();
        let key = match raw.chars().next()? {
            q @ ('\'' | '"') => raw.strip_prefix(q)?.strip_suffix(q)?.to_string(),
            _ => {
                raw.parse::<i64>().ok()?;
                raw.to_string()
            }
        };
        keys.push(key);
        rest = inner[close + 1..].trim_start();
    }
    Some((base, keys))
}

/// The JSON pointer (`/a/b`, or "" for the whole value) that `json_path`
/// names inside `field` — a JSON field, or `$meta` when `dynamic_key` (the
/// key is then the path's leading name and the pointer's first segment).
pub fn normalise(json_path: &str, field: &str, dynamic_key: bool) -> Result<String> {
    let (base, mut keys) = segments(json_path)
        .ok_or_else(|| parameter_invalid_msg(format!("cannot parse identifier: {json_path}")))?;
    if dynamic_key {
        keys.insert(0, base);
    } else if base != field {
        return Err(parameter_invalid_msg("fieldID not match with field name"));
    }
    if keys.is_empty() {
        return Ok(String::new());
    }
    // Escaped as JSON Pointer segments (RFC 6901), as Milvus stores them.
    let escaped: Vec<String> = keys
        .iter()
        .map(|k| k.replace('~', "~0").replace('/', "~1"))
        .collect();
    Ok(format!("/{}", escaped.join("/")))
}

/// The first key of a JSON pointer, unescaped ("" for the whole value).
pub fn first_key(pointer: &str) -> String {
    let first = pointer
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    first.replace("~1", "/").replace("~0", "~")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_json_pointers() {
        let n = |p: &str, f: &str, d: bool| normalise(p, f, d).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n("j", "j", false), "");
        assert_eq!(n("j['a']['b']", "j", false), "/a/b");
        assert_eq!(n(r#"j["a"][0]['b']"#, "j", false), "/a/0/b");
        assert_eq!(n("j['a/b~c']", "j", false), "/a~1b~0c");
        assert_eq!(n("age", "$meta", true), "/age");
        assert_eq!(n("my_json['a']", "$meta", true), "/my_json/a");
        assert!(normalise("other['a']", "j", false).is_err());
        assert!(normalise("j['a'", "j", false).is_err());
        assert!(normalise("j[a]", "j", false).is_err());
        assert!(normalise("", "j", false).is_err());
        assert_eq!(first_key("/my_json/a"), "my_json");
        assert_eq!(first_key("/a~1b"), "a/b");
        assert_eq!(first_key(""), "");
    }
}
