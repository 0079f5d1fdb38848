//! The JSON front end: a file whose first non-blank byte is `{` (as the reference decides).

use super::node::Node;

/// Parses JSON into a [`Node`], keeping object entries in document order (Go's decoder
/// assigns fields as it reads them, so the last of `"a"`/`"A"` in the text wins).
pub fn parse_json(bytes: &[u8]) -> Result<Node, serde_json::Error> {
    let v: JsonNode = serde_json::from_slice(bytes)?;
    Ok(v.0)
}

struct JsonNode(Node);

impl<'de> serde::Deserialize<'de> for JsonNode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = JsonNode;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<JsonNode, E> {
                Ok(JsonNode(Node::Null))
            }
            fn visit_bool<E>(self, b: bool) -> Result<JsonNode, E> {
                Ok(JsonNode(Node::Bool(b)))
            }
            fn visit_i64<E>(self, i: i64) -> Result<JsonNode, E> {
                Ok(JsonNode(Node::Int(i)))
            }
            fn visit_u64<E>(self, u: u64) -> Result<JsonNode, E> {
                Ok(JsonNode(match i64::try_from(u) {
                    Ok(i) => Node::Int(i),
                    Err(_) => Node::Number(u.to_string()),
                }))
            }
            fn visit_f64<E>(self, f: f64) -> Result<JsonNode, E> {
                Ok(JsonNode(Node::Number(f.to_string())))
            }
            fn visit_str<E>(self, s: &str) -> Result<JsonNode, E> {
                Ok(JsonNode(Node::Str(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<JsonNode, E> {
                Ok(JsonNode(Node::Str(s)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<JsonNode, A::Error> {
                let mut items = Vec::new();
                while let Some(JsonNode(n)) = a.next_element()? {
                    items.push(n);
                }
                Ok(JsonNode(Node::Seq(items)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<JsonNode, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, JsonNode(v))) = a.next_entry::<String, JsonNode>()? {
                    entries.push((k, v));
                }
                Ok(JsonNode(Node::Map(entries)))
            }
        }
        d.deserialize_any(V)
    }
}
