//! A small untyped document tree shared by the YAML and JSON front ends.
//!
//! The reference converts YAML to JSON and then decodes that JSON with Go's standard
//! library. Reproducing its quirks (case-insensitive keys, last duplicate wins, YAML 1.1
//! booleans, quoted scalars staying strings) is easiest on a tree that keeps exactly the
//! information Go's decoder would see: scalar kinds after YAML 1.1 resolution and the
//! mapping entries in the order the decoder would visit them.

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError};
use std::collections::HashMap;

/// One node of a parsed document.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null`, `~`, or an empty value.
    Null,
    /// A boolean (YAML 1.1 spellings included).
    Bool(bool),
    /// An integer that fits Go's `int`.
    Int(i64),
    /// Any other number, as written (JSON) or as resolved (YAML floats).
    Number(String),
    /// A string (any quoted YAML scalar, or a plain one that is no other type).
    Str(String),
    /// A list.
    Seq(Vec<Node>),
    /// A mapping; entries in the order Go's JSON decoder would assign them.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// A short name of the node's type, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) | Node::Number(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }

    /// The number of nodes in this subtree (itself included).
    pub fn size(&self) -> usize {
        match self {
            Node::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Node::Map(entries) => 1 + entries.iter().map(|(_, v)| v.size()).sum::<usize>(),
            _ => 1,
        }
    }

    /// The node rendered briefly (scalars in full up to a limit, collections by kind).
    pub fn brief(&self) -> String {
        let s = match self {
            Node::Null => "null".to_string(),
            Node::Bool(b) => b.to_string(),
            Node::Int(i) => i.to_string(),
            Node::Number(n) => n.clone(),
            Node::Str(s) => format!("{s:?}"),
            Node::Seq(_) => "a list".to_string(),
            Node::Map(_) => "a mapping".to_string(),
        };
        if s.chars().count() > 80 {
            let cut: String = s.chars().take(77).collect();
            format!("{cut}...")
        } else {
            s
        }
    }
}

/// The most nodes that aliases may copy into one document (anchored nodes kept for them
/// included). A config needs none; the limit only stops a small document from expanding
/// exponentially ("billion laughs") or quadratically (anchors nested in anchors).
const MAX_ALIAS_EXPANSION: usize = 100_000;

/// The most values (scalars, lists, mappings) one document may hold: ten times what a
/// config with 100,000 CIDRs needs, a bound on the memory any config can cost.
pub const MAX_NODES: usize = 1_000_000;

/// A YAML syntax error with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlSyntax {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

fn syntax(e: &ScanError) -> YamlSyntax {
    let m = e.marker();
    YamlSyntax {
        line: m.line(),
        column: m.col() + 1,
        message: e.info(),
    }
}

/// The first pass: which anchors are ever aliased, and whether the document is within
/// [`MAX_NODES`]. Nothing is built, so it costs no memory; syntax errors surface here.
fn survey(text: &str) -> Result<std::collections::HashSet<usize>, YamlSyntax> {
    let mut parser = Parser::new_from_str(text);
    let mut aliased = std::collections::HashSet::new();
    let mut nodes = 0usize;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| syntax(&e))?;
        match ev {
            Event::Alias(id) => {
                aliased.insert(id);
            }
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..) => {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(YamlSyntax {
                        line: span.start.line(),
                        column: span.start.col() + 1,
                        message: format!("document has more than {MAX_NODES} values"),
                    });
                }
            }
            // Only the first document counts (as with go-yaml's Unmarshal).
            Event::DocumentEnd | Event::StreamEnd => break,
            _ => {}
        }
    }
    Ok(aliased)
}

/// Parses the first YAML document of `text` into a [`Node`] (`Node::Null` if there is none).
///
/// Built iteratively (an explicit stack), so deeply nested junk cannot overflow ours. Two
/// passes: [`survey`] finds the anchors that are aliased; only those are kept (a copy per
/// anchor, counted against [`MAX_ALIAS_EXPANSION`]), so anchors nested in anchors no
/// longer cost memory quadratic in the document's size.
pub fn parse_yaml(text: &str) -> Result<Node, YamlSyntax> {
    let aliased = survey(text)?;
    enum Frame {
        Seq(Vec<Node>, usize),
        Map(Vec<(String, Node)>, Option<String>, usize),
    }
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // Anchored nodes with their size in nodes; `expanded` counts nodes copied by aliases.
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut expanded: usize = 0;
    let mut root: Option<Node> = None;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| syntax(&e))?;
        let done: Option<(Node, usize)> = match ev {
            Event::StreamStart | Event::DocumentStart(..) | Event::Anchor(..) => None,
            Event::StreamEnd | Event::DocumentEnd => {
                if stack.is_empty() {
                    break;
                }
                None
            }
            Event::Alias(id) => {
                let (node, size) = anchors.get(&id).cloned().unwrap_or((Node::Null, 1));
                expanded = expanded.saturating_add(size);
                if expanded > MAX_ALIAS_EXPANSION {
                    // A "billion laughs" document: go-yaml rejects it too.
                    return Err(YamlSyntax {
                        line: span.start.line(),
                        column: span.start.col() + 1,
                        message: "document contains excessive aliasing".into(),
                    });
                }
                Some((node, 0))
            }
            Event::UnresolvedAlias(name) => {
                return Err(YamlSyntax {
                    line: span.start.line(),
                    column: span.start.col() + 1,
                    message: format!("unknown anchor {name:?}"),
                })
            }
            Event::Scalar(value, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix().to_string());
                Some((resolve_scalar(&value, style, tag.as_deref()), anchor))
            }
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                None
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Frame::Map(Vec::new(), None, anchor));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => Some((Node::Seq(items), anchor)),
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(entries, _, anchor)) => {
                    Some((Node::Map(yaml_map(entries)), anchor))
                }
                _ => None,
            },
            #[allow(unreachable_patterns)]
            _ => None,
        };
        if stack.len() > 10_000 {
            return Err(YamlSyntax {
                line: span.start.line(),
                column: span.start.col() + 1,
                message: "document nested more than 10000 levels deep".into(),
            });
        }
        if let Some((node, anchor)) = done {
            if anchor != 0 && aliased.contains(&anchor) {
                let size = node.size();
                expanded = expanded.saturating_add(size);
                if expanded > MAX_ALIAS_EXPANSION {
                    return Err(YamlSyntax {
                        line: span.start.line(),
                        column: span.start.col() + 1,
                        message: "document contains excessive aliasing".into(),
                    });
                }
                anchors.insert(anchor, (node.clone(), size));
            }
            match stack.last_mut() {
                None => {
                    root = Some(node);
                    // Only the first document counts (as with go-yaml's Unmarshal).
                    break;
                }
                Some(Frame::Seq(items, _)) => items.push(node),
                Some(Frame::Map(entries, pending, _)) => match pending.take() {
                    None => *pending = Some(key_text(&node)),
                    Some(key) => entries.push((key, node)),
                },
            }
        }
    }
    Ok(root.unwrap_or(Node::Null))
}

/// A YAML mapping key as the JSON key the reference's YAML-to-JSON step would produce.
fn key_text(node: &Node) -> String {
    match node {
        Node::Str(s) | Node::Number(s) => s.clone(),
        Node::Int(i) => i.to_string(),
        Node::Bool(b) => b.to_string(),
        Node::Null => "null".to_string(),
        other => other.brief(),
    }
}

/// Duplicate keys in a YAML mapping: the last occurrence wins (go-yaml v2 map semantics);
/// the resulting JSON object is then emitted with keys sorted bytewise (Go's
/// `json.Marshal` of a map), which is the order the case-insensitive decoder sees them in.
fn yaml_map(entries: Vec<(String, Node)>) -> Vec<(String, Node)> {
    let mut map: std::collections::BTreeMap<String, Node> = std::collections::BTreeMap::new();
    for (k, v) in entries {
        map.insert(k, v);
    }
    map.into_iter().collect()
}

/// YAML 1.1 scalar resolution as go-yaml v2 does it (the subset that matters here).
fn resolve_scalar(value: &str, style: ScalarStyle, tag: Option<&str>) -> Node {
    match tag {
        Some("str") => return Node::Str(value.to_string()),
        Some("null") => return Node::Null,
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Node::Str(value.to_string());
    }
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Node::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Node::Bool(false)
        }
        _ => {}
    }
    if let Some(i) = yaml_int(value) {
        return match i64::try_from(i) {
            Ok(i) => Node::Int(i),
            Err(_) => Node::Number(value.to_string()),
        };
    }
    if is_yaml_float(value) {
        let cleaned: String = value.chars().filter(|c| *c != '_').collect();
        if let Ok(f) = cleaned.parse::<f64>() {
            // sigs.k8s.io/yaml re-emits floats in Go's shortest form, so `5.0` reaches the
            // JSON decoder as `5` and is then a valid int.
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                return Node::Int(f as i64);
            }
            return Node::Number(value.to_string());
        }
    }
    Node::Str(value.to_string())
}

/// Integers in YAML 1.1 notation: decimal, `0x`, `0b`, leading-`0` octal, `_` separators.
fn yaml_int(value: &str) -> Option<i128> {
    let (neg, rest) = match value.as_bytes().first()? {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value),
    };
    let digits: String = rest.chars().filter(|c| *c != '_').collect();
    // Only one leading sign (Go's ParseInt); `from_str_radix` would take another after a
    // base prefix (`0x-5`), and negating its i128::MIN would overflow.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let parsed = if let Some(h) = digits.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()
    } else if let Some(b) = digits.strip_prefix("0b") {
        i128::from_str_radix(b, 2).ok()
    } else if digits.len() > 1 && digits.starts_with('0') {
        i128::from_str_radix(&digits[1..], 8).ok()
    } else if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i128>().ok()
    } else {
        None
    }?;
    Some(if neg { -parsed } else { parsed })
}

fn is_yaml_float(value: &str) -> bool {
    let v = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (mantissa, exp) = match v.find(['e', 'E']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let mantissa_ok = {
        let mut parts = mantissa.splitn(2, '.');
        let int = parts.next().unwrap_or("");
        let frac = parts.next();
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || b == b'_');
        match frac {
            Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
            None => !int.is_empty() && digits(int),
        }
    };
    let exp_ok = match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
        }
    };
    mantissa_ok && exp_ok
}

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
