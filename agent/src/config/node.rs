//! The untyped document tree both front ends (YAML and JSON) produce: exactly what Go's
//! JSON decoder would see after the reference's YAML-to-JSON step (scalar kinds after
//! YAML 1.1 resolution, mapping entries in the order the decoder visits them).

/// The most values (scalars, lists, mappings) one document may hold: ten times what a
/// config with 100,000 CIDRs needs, a bound on the memory any config can cost.
pub const MAX_NODES: usize = 1_000_000;

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

/// A key the reference's converter has no JSON key for (null, an integer beyond int64):
/// a marker starting with NUL (no config key does), an error only if it survives into
/// the final document ([`unconvertible`]).
pub fn unsupported_key(what: &str) -> String {
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
