//! A small untyped document tree shared by the YAML and JSON front ends.
//!
//! The reference converts YAML to JSON and then decodes that JSON with Go's standard
//! library. Reproducing its quirks (case-insensitive keys, last duplicate wins, YAML 1.1
//! booleans, quoted scalars staying strings) is easiest on a tree that keeps exactly the
//! information Go's decoder would see: scalar kinds after YAML 1.1 resolution and the
//! mapping entries in the order the decoder would visit them.

use crate::survey::survey;
use crate::yaml11::{self, Scalar, Tag};
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
    /// A value the reference's YAML-to-JSON step cannot convert (`.nan`), with the reason.
    /// It fails the config only if it survives into the final document (a later duplicate
    /// key may replace it), so it is checked at the end ([`unconvertible`]).
    Invalid(String),
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
            Node::Invalid(_) => "a value JSON cannot carry",
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
            Node::Invalid(why) => why.clone(),
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

pub(crate) fn syntax(e: &ScanError) -> YamlSyntax {
    let m = e.marker();
    YamlSyntax {
        line: m.line(),
        column: m.col() + 1,
        message: e.info(),
    }
}

/// Whether a scalar's content runs to the end of `text` (only blanks after the span) and
/// its last line is content without a line break after it.
fn ends_the_text_without_a_break(text: &str, span: &serde_saphyr::granit_parser::Span) -> bool {
    let last_line = text.rsplit(['\n', '\r']).next().unwrap_or("");
    !last_line.trim_matches([' ', '\t']).is_empty()
        && crate::survey::from(text, &span.end)
            .chars()
            .all(|c| c == ' ' || c == '\t')
}

/// Parses the first YAML document of `text` into a [`Node`] (`Node::Null` if there is none).
///
/// Built iteratively (an explicit stack), so deeply nested junk cannot overflow ours. Two
/// passes: [`survey`] finds the anchors that are aliased; only those are kept (a copy per
/// anchor, counted against [`MAX_ALIAS_EXPANSION`]), so anchors nested in anchors no
/// longer cost memory quadratic in the document's size.
pub fn parse_yaml(text: &str) -> Result<Node, YamlSyntax> {
    let text = crate::survey::flow_keys_as_go_yaml_reads_them(text);
    parse_yaml_text(&text)
}

fn parse_yaml_text(text: &str) -> Result<Node, YamlSyntax> {
    use serde_saphyr::granit_parser::StructureStyle;
    let aliased = survey(text)?;
    enum Frame {
        Seq(Vec<Node>, usize, bool),
        Map(Vec<(Key, Node)>, Option<Key>, usize, bool),
    }
    /// A finished node: a scalar still to be placed as a key or a value, or a node.
    enum Done {
        Scalar(Scalar),
        Node(Node),
    }
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // Anchored nodes with their size in nodes; `expanded` counts nodes copied by aliases.
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut expanded: usize = 0;
    let mut root: Option<Node> = None;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| syntax(&e))?;
        let at = |message: String| YamlSyntax {
            line: span.start.line(),
            column: span.start.col() + 1,
            message,
        };
        let done: Option<(Done, usize)> = match ev {
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
                    return Err(at("document contains excessive aliasing".into()));
                }
                Some((Done::Node(node), 0))
            }
            Event::UnresolvedAlias(name) => {
                return Err(at(format!(
                    "unknown anchor {:?}",
                    crate::config::clip(&name)
                )))
            }
            Event::Scalar(value, style, anchor, tag) => {
                let name = tag
                    .as_ref()
                    .map(|t| t.suffix_in_namespace("tag:yaml.org,2002:"));
                let tag = match &name {
                    None => None,
                    Some(Some(n)) => Some(Tag::Core(n.as_ref())),
                    Some(None) => Some(Tag::Other),
                };
                let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                let value = if block
                    && stack.is_empty()
                    && crate::survey::root_block_at_column_zero(text, &span)
                {
                    // go-yaml wants a top-level block scalar's content indented by at least
                    // one space: content at column 0 leaves the scalar empty.
                    std::borrow::Cow::Borrowed("")
                } else if block && ends_the_text_without_a_break(text, &span) {
                    // The last line break of a block scalar is the one the text has: go-yaml
                    // adds none when the file ends right after the content.
                    match value.strip_suffix('\n') {
                        Some(v) => std::borrow::Cow::Owned(v.to_owned()),
                        None => value,
                    }
                } else {
                    value
                };
                let scalar =
                    yaml11::resolve(&value, style == ScalarStyle::Plain, tag).map_err(&at)?;
                Some((Done::Scalar(scalar), anchor))
            }
            Event::SequenceStart(style, anchor, _) => {
                let flow = style == StructureStyle::Flow;
                stack.push(Frame::Seq(Vec::new(), anchor, flow));
                None
            }
            Event::MappingStart(style, anchor, _) => {
                let flow = style == StructureStyle::Flow;
                stack.push(Frame::Map(Vec::new(), None, anchor, flow));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor, _)) => Some((Done::Node(Node::Seq(items)), anchor)),
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(entries, _, anchor, _)) => Some((
                    Done::Node(Node::Map(yaml_map(entries).map_err(&at)?)),
                    anchor,
                )),
                _ => None,
            },
            #[allow(unreachable_patterns)]
            _ => None,
        };
        if stack.len() > 10_000 {
            return Err(at("document nested more than 10000 levels deep".into()));
        }
        let Some((done, anchor)) = done else {
            continue;
        };
        if let (Done::Scalar(Scalar::Null), true) = (&done, span.start.index() == span.end.index())
        {
            if matches!(stack.last(), Some(Frame::Map(_, None, ..))) {
                // `: value` with nothing before the colon: go-yaml finds no key.
                return Err(at("did not find expected key (empty key)".into()));
            }
        }
        let is_key = matches!(stack.last(), Some(Frame::Map(_, None, ..)));
        let in_flow = stack
            .iter()
            .any(|f| matches!(f, Frame::Seq(.., true) | Frame::Map(.., true)));
        // YAML 1.1: an implicit key is a single line, in flow collections too.
        if is_key
            && in_flow
            && (span.start.line() != span.end.line()
                || crate::survey::colon_on_a_later_line(crate::survey::from(text, &span.end)))
        {
            return Err(at("a key in a flow collection must be on one line".into()));
        }
        // The key a finished node makes, or the value.
        let (key, node) = match done {
            Done::Scalar(s) if is_key => (Some(scalar_key(&s).map_err(&at)?), scalar_value(s).ok()),
            Done::Scalar(s) => (None, Some(scalar_value(s).map_err(&at)?)),
            Done::Node(n) if is_key => (Some(node_key(&n).map_err(&at)?), Some(n)),
            Done::Node(n) => (None, Some(n)),
        };
        if let (true, Some(node)) = (anchor != 0 && aliased.contains(&anchor), &node) {
            let size = node.size();
            expanded = expanded.saturating_add(size);
            if expanded > MAX_ALIAS_EXPANSION {
                return Err(at("document contains excessive aliasing".into()));
            }
            anchors.insert(anchor, (node.clone(), size));
        }
        match stack.last_mut() {
            None => {
                root = node;
                // Only the first document counts (as with go-yaml's Unmarshal).
                break;
            }
            Some(Frame::Seq(items, ..)) => items.extend(node),
            Some(Frame::Map(entries, pending, ..)) => match pending.take() {
                None => *pending = key,
                Some(k) => entries.extend(node.map(|n| (k, n))),
            },
        }
    }
    let root = root.unwrap_or(Node::Null);
    if let Some(why) = unconvertible(&root) {
        return Err(YamlSyntax {
            line: 1,
            column: 1,
            message: why,
        });
    }
    Ok(root)
}

/// A mapping key as the reference's YAML-to-JSON step sees it.
#[derive(Debug, Clone)]
enum Key {
    Text(String),
    /// `<<`: merge the value's mapping(s) in.
    Merge,
}

/// A scalar as a value. `.inf`/`.nan` cannot be written as JSON: the whole config fails.
fn scalar_value(s: Scalar) -> Result<Node, String> {
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

/// A scalar as a key: null, timestamps and integers beyond int64 are marked (the
/// reference's converter has no JSON key for them).
fn scalar_key(s: &Scalar) -> Result<Key, String> {
    Ok(Key::Text(match s {
        Scalar::Merge => return Ok(Key::Merge),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f, _) => format!("{}", *f as f32),
        Scalar::NonFinite(s) => (*s).to_string(),
        Scalar::Str(t) => t.clone(),
        Scalar::Null => unsupported_key("null"),
        Scalar::Timestamp(t) => unsupported_key(&format!("timestamp {t}")),
        Scalar::BigUint(t) => unsupported_key(&format!("integer {t}")),
    }))
}

/// A key the reference's converter has no JSON key for (null, a timestamp, an integer
/// beyond int64): a marker that no YAML key can spell (NUL is refused by the reader),
/// an error only if it survives into the final document ([`unconvertible`]).
fn unsupported_key(what: &str) -> String {
    format!("\0unsupported map key: {what}")
}

/// The first value or key of the final document that JSON cannot carry, if any.
pub fn unconvertible(node: &Node) -> Option<String> {
    match node {
        Node::Invalid(why) => Some(why.clone()),
        Node::Seq(items) => items.iter().find_map(unconvertible),
        Node::Map(entries) => entries.iter().find_map(|(k, v)| {
            k.strip_prefix('\0')
                .map(str::to_string)
                .or_else(|| unconvertible(v))
        }),
        _ => None,
    }
}

/// An aliased or collection node as a key: only scalars make keys.
fn node_key(n: &Node) -> Result<Key, String> {
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
fn yaml_map(entries: Vec<(Key, Node)>) -> Result<Vec<(String, Node)>, String> {
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
