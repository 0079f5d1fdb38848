//! libyaml's events of the first document → a [`Node`], as go-yaml's parser and decoder
//! build it: scalars resolved by YAML 1.1 rules, aliases copied (an alias inside the node
//! it names is refused, as go-yaml refuses "anchor value contains itself"), mappings
//! merged and ordered ([`super::mapping`]). Iterative (an explicit stack), so deeply
//! nested junk cannot overflow ours; bounded in values, depth and alias expansion.

use super::go_rules::{self, Refusal};
use super::libyaml::{EventKind, Events, LibyamlError, Mark, Properties, ScalarStyle};
use super::mapping::{node_key, scalar_key, scalar_value, yaml_map, Key};
use super::resolve::{self, Scalar, Tag};
use crate::config::gostd::clip;
use crate::config::node::{Node, MAX_NODES};
use std::collections::{HashMap, HashSet};

/// The most nodes that aliases may copy into one document (anchored nodes kept for them
/// included). A config needs none; the limit only stops a small document from expanding
/// exponentially ("billion laughs") or quadratically (anchors nested in anchors).
const MAX_ALIAS_EXPANSION: usize = 100_000;

/// The deepest nesting of collections (go-yaml's limit).
const MAX_DEPTH: usize = 10_000;

/// Why the document was refused, at a libyaml mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComposeError {
    Libyaml(LibyamlError),
    At { mark: Mark, message: String },
}

impl From<Refusal> for ComposeError {
    fn from(r: Refusal) -> Self {
        ComposeError::At {
            mark: r.mark,
            message: r.message.to_string(),
        }
    }
}

/// The tag prefix of YAML's core types (`!!int` is `tag:yaml.org,2002:int`).
const CORE_TAG: &str = "tag:yaml.org,2002:";

/// The names that aliases of the first document use: only those anchors are kept (a
/// copy each), so a document full of anchors costs no extra memory. Run only when the
/// input has a `*` at all; a syntax error simply ends the list (the second pass reports it).
pub fn aliased_anchors(bytes: &[u8]) -> HashSet<String> {
    let Ok(events) = Events::new(bytes) else {
        return HashSet::new();
    };
    events
        .map_while(Result::ok)
        .take_while(|e| !matches!(e.kind, EventKind::DocumentEnd | EventKind::StreamEnd))
        .filter_map(|e| match e.kind {
            EventKind::Alias { anchor } => Some(anchor),
            _ => None,
        })
        .collect()
}

/// Composes the first document of `bytes` (`Node::Null` if there is none). `text` is
/// [`go_rules::source_text`] of the bytes, which libyaml's marks index.
pub fn compose(bytes: &[u8], text: &str, aliased: &HashSet<String>) -> Result<Node, ComposeError> {
    let mut c = Composer {
        text,
        aliased,
        stack: Vec::new(),
        anchors: HashMap::new(),
        generation: 0,
        expanded: 0,
        nodes: 0,
        root: None,
    };
    for event in Events::new(bytes).map_err(ComposeError::Libyaml)? {
        let event = event.map_err(ComposeError::Libyaml)?;
        let at = event.start;
        let fail = |message: String| ComposeError::At { mark: at, message };
        match event.kind {
            EventKind::StreamStart => {}
            EventKind::DocumentStart { version } => go_rules::version(version, at)?,
            // go-yaml reads the first document's end (and so scans a token past it).
            EventKind::DocumentEnd | EventKind::StreamEnd => break,
            EventKind::Alias { anchor } => {
                let node = c.alias(&anchor).map_err(fail)?;
                c.place(Done::Node(node), None).map_err(fail)?;
            }
            EventKind::Scalar {
                properties,
                value,
                style,
            } => {
                c.count().map_err(fail)?;
                c.check_scalar(&properties, &value, style, at, event.end)?;
                let scalar = resolve_scalar(&value, style, properties.tag.as_deref());
                let anchor = c.open_anchor(properties.anchor);
                c.place(Done::Scalar(scalar.map_err(fail)?), anchor)
                    .map_err(fail)?;
            }
            EventKind::SequenceStart { properties, flow } => {
                c.open(Collection::Seq(Vec::new()), properties, flow)
                    .map_err(fail)?;
            }
            EventKind::MappingStart { properties, flow } => {
                c.open(Collection::Map(Vec::new(), None), properties, flow)
                    .map_err(fail)?;
            }
            EventKind::SequenceEnd | EventKind::MappingEnd => {
                let Some(frame) = c.stack.pop() else { break };
                let node = match frame.collection {
                    Collection::Seq(items) => Node::Seq(items),
                    Collection::Map(entries, _) => Node::Map(yaml_map(entries).map_err(fail)?),
                };
                c.place(Done::Node(node), frame.anchor).map_err(fail)?;
            }
        }
    }
    let root = c.root.unwrap_or(Node::Null);
    if let Some(why) = crate::config::node::unconvertible(&root) {
        return Err(ComposeError::At {
            mark: Mark::default(),
            message: why,
        });
    }
    Ok(root)
}

/// A collection being read.
enum Collection {
    Seq(Vec<Node>),
    /// Entries so far, and a key waiting for its value.
    Map(Vec<(Key, Node)>, Option<Key>),
}

struct Frame {
    collection: Collection,
    /// The anchor (kept only when aliased) and its definition's generation.
    anchor: Option<(String, u64)>,
    flow: bool,
}

/// An anchor's definition: still being read (an alias to it would be inside it), or done.
enum Anchor {
    Open(u64),
    Done(Node, usize),
}

/// A finished node: a scalar still to be placed as a key or a value, or a node.
enum Done {
    Scalar(Scalar),
    Node(Node),
}

struct Composer<'a> {
    text: &'a str,
    aliased: &'a HashSet<String>,
    stack: Vec<Frame>,
    anchors: HashMap<String, Anchor>,
    generation: u64,
    /// Nodes copied by aliases or kept for them.
    expanded: usize,
    nodes: usize,
    root: Option<Node>,
}

impl Composer<'_> {
    fn count(&mut self) -> Result<(), String> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(format!("document has more than {MAX_NODES} values"));
        }
        Ok(())
    }

    fn expand(&mut self, size: usize) -> Result<(), String> {
        self.expanded = self.expanded.saturating_add(size);
        if self.expanded > MAX_ALIAS_EXPANSION {
            // A "billion laughs" document: go-yaml refuses it too.
            return Err("document contains excessive aliasing".into());
        }
        Ok(())
    }

    /// go-yaml registers an anchor when its node starts: from then on the name means this
    /// node (an alias before its end is inside it).
    fn open_anchor(&mut self, anchor: Option<String>) -> Option<(String, u64)> {
        let name = anchor.filter(|a| self.aliased.contains(a))?;
        self.generation += 1;
        self.anchors
            .insert(name.clone(), Anchor::Open(self.generation));
        Some((name, self.generation))
    }

    fn alias(&mut self, name: &str) -> Result<Node, String> {
        let (node, size) = match self.anchors.get(name) {
            None => return Err(format!("unknown anchor '{}' referenced", clip(name))),
            Some(Anchor::Open(_)) => {
                return Err(format!("anchor '{}' value contains itself", clip(name)))
            }
            Some(Anchor::Done(node, size)) => (node.clone(), *size),
        };
        self.expand(size)?;
        Ok(node)
    }

    fn open(&mut self, collection: Collection, p: Properties, flow: bool) -> Result<(), String> {
        self.count()?;
        let anchor = self.open_anchor(p.anchor);
        self.stack.push(Frame {
            collection,
            anchor,
            flow,
        });
        if self.stack.len() > MAX_DEPTH {
            return Err(format!("document nested more than {MAX_DEPTH} levels deep"));
        }
        Ok(())
    }

    /// go-yaml's rules for one scalar event (start mark `at`, end mark `end`).
    fn check_scalar(
        &self,
        p: &Properties,
        value: &str,
        style: ScalarStyle,
        at: Mark,
        end: Mark,
    ) -> Result<(), Refusal> {
        let in_flow = self.stack.last().is_some_and(|f| f.flow);
        if in_flow && style == ScalarStyle::Plain {
            go_rules::flow_plain_scalar(value, at)?;
        }
        if in_flow && p.tag.is_some() {
            go_rules::tag_in_flow(self.text.get(at.index..).unwrap_or(""), at)?;
        }
        if style == ScalarStyle::DoubleQuoted {
            go_rules::double_quoted(self.text.get(at.index..end.index).unwrap_or(""), at)?;
        }
        Ok(())
    }

    /// Puts a finished node where it belongs: the pending key or value of the mapping,
    /// the next item of the sequence, or the root.
    fn place(&mut self, done: Done, anchor: Option<(String, u64)>) -> Result<(), String> {
        let is_key = matches!(
            self.stack.last(),
            Some(Frame {
                collection: Collection::Map(_, None),
                ..
            })
        );
        let (key, node) = match done {
            Done::Scalar(s) if is_key => (Some(scalar_key(&s)?), scalar_value(s).ok()),
            Done::Scalar(s) => (None, Some(scalar_value(s)?)),
            Done::Node(n) if is_key => (Some(node_key(&n)?), Some(n)),
            Done::Node(n) => (None, Some(n)),
        };
        if let (Some((name, generation)), Some(node)) = (anchor, &node) {
            // Kept unless a later definition of the name replaced this one meanwhile.
            if matches!(self.anchors.get(&name), Some(Anchor::Open(g)) if *g == generation) {
                let size = node.size();
                self.expand(size)?;
                self.anchors.insert(name, Anchor::Done(node.clone(), size));
            }
        }
        match self.stack.last_mut() {
            None => self.root = node,
            Some(Frame {
                collection: Collection::Seq(items),
                ..
            }) => items.extend(node),
            Some(Frame {
                collection: Collection::Map(entries, pending),
                ..
            }) => match pending.take() {
                None => *pending = key,
                Some(k) => entries.extend(node.map(|n| (k, n))),
            },
        }
        Ok(())
    }
}

/// One scalar resolved as go-yaml resolves it (plain scalars by YAML 1.1's implicit rules,
/// any scalar by its explicit tag).
fn resolve_scalar(value: &str, style: ScalarStyle, tag: Option<&str>) -> Result<Scalar, String> {
    let tag = tag.map(|t| match t.strip_prefix(CORE_TAG) {
        Some(name) => Tag::Core(name),
        None => Tag::Other,
    });
    resolve::resolve(value, style == ScalarStyle::Plain, tag)
}
