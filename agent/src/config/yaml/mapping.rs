//! Keys and values as the reference's YAML-to-JSON step makes them from go-yaml's
//! resolved scalars, and mappings as go-yaml builds them (merge keys, last key wins).

use super::resolve::Scalar;
use crate::config::node::{unsupported_key, Node};

/// A mapping key as the reference's YAML-to-JSON step sees it.
#[derive(Debug, Clone)]
pub enum Key {
    Text(String),
    /// `<<`: merge the value's mapping(s) in.
    Merge,
}

/// A scalar as a value. `.inf`/`.nan` cannot be written as JSON: the whole config fails.
pub fn scalar_value(s: Scalar) -> Result<Node, String> {
    Ok(match s {
        Scalar::Null => Node::Null,
        Scalar::Bool(b) => Node::Bool(b),
        Scalar::Int(i) => Node::Int(i),
        Scalar::BigUint(t) => Node::Number(t),
        // Go re-emits floats in shortest form, so a whole `5.0` reaches the JSON decoder
        // as `5` and is then a valid int.
        Scalar::Float(f, text) => {
            if f.fract() == 0.0
                && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
            {
                Node::Int(f as i64)
            } else {
                Node::Number(text)
            }
        }
        Scalar::NonFinite(s) => Node::Invalid(format!("json: unsupported value: {s}")),
        Scalar::Timestamp(t) | Scalar::Str(t) => Node::Str(t),
        Scalar::Merge => Node::Str("<<".into()),
    })
}

/// A scalar as a key: null and integers beyond int64 are marked (the
/// reference's converter has no JSON key for them).
pub fn scalar_key(s: &Scalar) -> Result<Key, String> {
    Ok(Key::Text(match s {
        Scalar::Merge => return Ok(Key::Merge),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f, _) => format!("{}", *f as f32),
        Scalar::NonFinite(s) => (*s).to_string(),
        // go-yaml decodes a timestamp into an `interface{}` as its text, keys included.
        Scalar::Timestamp(t) | Scalar::Str(t) => t.clone(),
        Scalar::Null => unsupported_key("null"),
        Scalar::BigUint(t) => unsupported_key(&format!("integer {t}")),
    }))
}

/// An aliased or collection node as a key: only scalars make keys.
pub fn node_key(n: &Node) -> Result<Key, String> {
    match n {
        Node::Null => Ok(Key::Text(unsupported_key("null"))),
        Node::Seq(_) | Node::Map(_) | Node::Invalid(_) => {
            Err(format!("invalid map key: {}", n.kind()))
        }
        Node::Bool(b) => Ok(Key::Text(b.to_string())),
        Node::Int(i) => Ok(Key::Text(i.to_string())),
        Node::Number(t) | Node::Str(t) => Ok(Key::Text(t.clone())),
    }
}

/// A YAML mapping as go-yaml v2 builds it: entries in order, a later key replacing an
/// earlier one, a merge key (`<<`) setting every key of its mapping (of each mapping of a
/// list, the first one winning) at that point. Then emitted with keys sorted bytewise (Go's
/// `json.Marshal` of a map), which is the order the case-insensitive decoder sees them in.
pub fn yaml_map(entries: Vec<(Key, Node)>) -> Result<Vec<(String, Node)>, String> {
    const WANT_MAP: &str = "map merge requires map or sequence of maps as the value";
    let mut map: std::collections::BTreeMap<String, Node> = std::collections::BTreeMap::new();
    for (k, v) in entries {
        match (k, v) {
            (Key::Text(k), v) => {
                map.insert(k, v);
            }
            (Key::Merge, Node::Map(merged)) => map.extend(merged),
            (Key::Merge, Node::Seq(items)) => {
                if !items.iter().all(|i| matches!(i, Node::Map(_))) {
                    return Err(WANT_MAP.into());
                }
                for item in items.into_iter().rev() {
                    if let Node::Map(merged) = item {
                        map.extend(merged);
                    }
                }
            }
            (Key::Merge, _) => return Err(WANT_MAP.into()),
        }
    }
    Ok(map.into_iter().collect())
}
