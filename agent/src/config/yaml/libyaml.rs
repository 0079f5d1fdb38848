//! The one door to libyaml (the `libyaml-rs` crate, libyaml 0.2.5 transpiled to Rust):
//! a safe iterator of owned events. go-yaml v2, the reference's parser, is a Go port of
//! libyaml, so its event stream is the reference's up to the few rules in `go_rules`.
//! Every `unsafe` block of the agent is in this file; swapping the crate touches only it.

use libyaml_rs as sys;
use std::ffi::CStr;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

/// A position in the input: `index` is a byte offset into the input as libyaml decodes
/// it (UTF-8, without a leading byte-order mark); `line` and `column` count from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    pub index: usize,
    pub line: usize,
    pub column: usize,
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// Anchor and tag of a node, as libyaml reports them (the tag with its handle resolved,
/// e.g. `tag:yaml.org,2002:str` for `!!str`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties {
    pub anchor: Option<String>,
    pub tag: Option<String>,
}

/// One parser event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    StreamStart,
    StreamEnd,
    /// `version`: the `%YAML` directive's major and minor number, if there was one.
    DocumentStart {
        version: Option<(i32, i32)>,
    },
    DocumentEnd,
    Alias {
        anchor: String,
    },
    Scalar {
        properties: Properties,
        value: String,
        style: ScalarStyle,
    },
    SequenceStart {
        properties: Properties,
        flow: bool,
    },
    SequenceEnd,
    MappingStart {
        properties: Properties,
        flow: bool,
    },
    MappingEnd,
}

/// An event with where it starts and ends in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub start: Mark,
    pub end: Mark,
}

/// Why libyaml stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LibyamlError {
    /// The bytes are not UTF-8 or UTF-16, or hold a character YAML 1.1 does not allow;
    /// `offset` is the byte offset in the input, `value` the offending byte or character.
    #[error("{problem} at byte {offset}")]
    Reader {
        problem: String,
        offset: usize,
        value: i32,
    },
    /// A scanner or parser error at a position.
    #[error("{problem}")]
    Syntax {
        problem: String,
        context: Option<String>,
        mark: Mark,
    },
    #[error("libyaml ran out of memory")]
    Memory,
}

/// The boxed libyaml parser state. libyaml keeps a pointer to the parser inside it (the
/// string read handler's data), so it must not move: it lives in a `Box` and is only
/// reached through that box's pointer.
struct RawParser {
    parser: Box<MaybeUninit<sys::yaml_parser_t>>,
}

impl RawParser {
    fn as_mut_ptr(&mut self) -> *mut sys::yaml_parser_t {
        self.parser.as_mut_ptr()
    }
}

impl Drop for RawParser {
    fn drop(&mut self) {
        // SAFETY: the parser was initialized in `Events::new` (a `RawParser` exists only
        // after `yaml_parser_initialize` succeeded) and is deleted exactly once, here.
        unsafe { sys::yaml_parser_delete(self.as_mut_ptr()) }
    }
}

/// The events of a YAML byte stream, in order; `None` after the stream's end or after
/// the first error (which is returned once).
pub struct Events<'input> {
    raw: RawParser,
    done: bool,
    /// libyaml reads the input through a raw pointer: the borrow keeps it alive and
    /// unchanged for as long as the parser exists.
    _input: PhantomData<&'input [u8]>,
}

impl<'input> Events<'input> {
    /// A parser over `input`; libyaml detects UTF-8 or UTF-16 from a byte-order mark.
    pub fn new(input: &'input [u8]) -> Result<Events<'input>, LibyamlError> {
        let mut parser = Box::new(MaybeUninit::<sys::yaml_parser_t>::uninit());
        // SAFETY: `yaml_parser_initialize` writes every field of the parser (it zeroes the
        // whole struct first) and reports allocation failure by its result.
        if unsafe { sys::yaml_parser_initialize(parser.as_mut_ptr()) }.fail {
            return Err(LibyamlError::Memory);
        }
        let mut raw = RawParser { parser };
        // SAFETY: the parser is initialized and boxed (it never moves: libyaml stores its
        // address as the read handler's data). `input` outlives the parser: `Events`
        // borrows it for `'input` and owns the parser.
        unsafe {
            sys::yaml_parser_set_input_string(raw.as_mut_ptr(), input.as_ptr(), input.len() as u64)
        };
        Ok(Events {
            raw,
            done: false,
            _input: PhantomData,
        })
    }

    fn error(&mut self) -> LibyamlError {
        // SAFETY: the parser is initialized; after a failed `yaml_parser_parse` its error
        // fields are set, and `problem`/`context` are null or point to static C strings.
        unsafe {
            let p = &*self.raw.as_mut_ptr();
            let text = |s: *const std::os::raw::c_char| {
                (!s.is_null()).then(|| CStr::from_ptr(s).to_string_lossy().into_owned())
            };
            let problem = text(p.problem).unwrap_or_else(|| "unknown error".into());
            match p.error {
                sys::YAML_MEMORY_ERROR => LibyamlError::Memory,
                sys::YAML_READER_ERROR => LibyamlError::Reader {
                    problem,
                    offset: p.problem_offset as usize,
                    value: p.problem_value,
                },
                _ => LibyamlError::Syntax {
                    problem,
                    context: text(p.context),
                    mark: mark(p.problem_mark),
                },
            }
        }
    }
}

impl Iterator for Events<'_> {
    type Item = Result<Event, LibyamlError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut raw = MaybeUninit::<sys::yaml_event_t>::uninit();
        // SAFETY: the parser is initialized and its input alive (see `Events::new`); on
        // success libyaml fills the whole event, on failure it writes none of it.
        if unsafe { sys::yaml_parser_parse(self.raw.as_mut_ptr(), raw.as_mut_ptr()) }.fail {
            self.done = true;
            return Some(Err(self.error()));
        }
        // SAFETY: `yaml_parser_parse` succeeded, so the event is initialized; it is read
        // (its strings copied) and then deleted exactly once.
        let event = unsafe {
            let e = raw.assume_init_mut();
            let event = owned(e);
            sys::yaml_event_delete(e);
            event
        };
        if event.kind == EventKind::StreamEnd {
            self.done = true;
        }
        Some(Ok(event))
    }
}

fn mark(m: sys::yaml_mark_t) -> Mark {
    Mark {
        index: m.index as usize,
        line: m.line as usize,
        column: m.column as usize,
    }
}

/// A NUL-terminated libyaml string, if present.
///
/// # Safety
/// `s` is null or points to a NUL-terminated string that stays alive during the call.
unsafe fn c_string(s: *const u8) -> Option<String> {
    // SAFETY: per this function's contract.
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s.cast()).to_string_lossy().into_owned() })
}

/// # Safety
/// Both pointers are null or valid libyaml strings (see [`c_string`]).
unsafe fn properties(anchor: *const u8, tag: *const u8) -> Properties {
    // SAFETY: per this function's contract.
    unsafe {
        Properties {
            anchor: c_string(anchor),
            tag: c_string(tag),
        }
    }
}

/// The event's data copied out of libyaml's memory.
///
/// # Safety
/// `e` is an event filled by a successful `yaml_parser_parse` and not yet deleted: its
/// type says which union field is set, and that field's pointers are valid.
unsafe fn owned(e: &sys::yaml_event_t) -> Event {
    // SAFETY: per this function's contract, each arm reads the union field of its type.
    let kind = unsafe {
        match e.type_ {
            sys::YAML_STREAM_START_EVENT => EventKind::StreamStart,
            sys::YAML_DOCUMENT_START_EVENT => {
                let v = e.data.document_start.version_directive;
                EventKind::DocumentStart {
                    version: (!v.is_null()).then(|| ((*v).major, (*v).minor)),
                }
            }
            sys::YAML_DOCUMENT_END_EVENT => EventKind::DocumentEnd,
            sys::YAML_ALIAS_EVENT => EventKind::Alias {
                anchor: c_string(e.data.alias.anchor).unwrap_or_default(),
            },
            sys::YAML_SCALAR_EVENT => {
                let s = e.data.scalar;
                let bytes = if s.value.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(s.value, s.length as usize)
                };
                EventKind::Scalar {
                    properties: properties(s.anchor, s.tag),
                    // libyaml hands on UTF-8 (it decodes and checks the input itself).
                    value: String::from_utf8_lossy(bytes).into_owned(),
                    style: match s.style {
                        sys::YAML_SINGLE_QUOTED_SCALAR_STYLE => ScalarStyle::SingleQuoted,
                        sys::YAML_DOUBLE_QUOTED_SCALAR_STYLE => ScalarStyle::DoubleQuoted,
                        sys::YAML_LITERAL_SCALAR_STYLE => ScalarStyle::Literal,
                        sys::YAML_FOLDED_SCALAR_STYLE => ScalarStyle::Folded,
                        _ => ScalarStyle::Plain,
                    },
                }
            }
            sys::YAML_SEQUENCE_START_EVENT => {
                let s = e.data.sequence_start;
                EventKind::SequenceStart {
                    properties: properties(s.anchor, s.tag),
                    flow: s.style == sys::YAML_FLOW_SEQUENCE_STYLE,
                }
            }
            sys::YAML_SEQUENCE_END_EVENT => EventKind::SequenceEnd,
            sys::YAML_MAPPING_START_EVENT => {
                let m = e.data.mapping_start;
                EventKind::MappingStart {
                    properties: properties(m.anchor, m.tag),
                    flow: m.style == sys::YAML_FLOW_MAPPING_STYLE,
                }
            }
            sys::YAML_MAPPING_END_EVENT => EventKind::MappingEnd,
            // YAML_STREAM_END_EVENT (YAML_NO_EVENT is never returned on success).
            _ => EventKind::StreamEnd,
        }
    };
    Event {
        kind,
        start: mark(e.start_mark),
        end: mark(e.end_mark),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<EventKind> {
        Events::new(input.as_bytes())
            .unwrap()
            .map(|e| e.unwrap().kind)
            .collect()
    }

    #[test]
    fn a_flow_sequence_with_an_anchor_and_a_tag() {
        let k = kinds("x: &a [!!str 1]\n");
        assert!(k.contains(&EventKind::SequenceStart {
            properties: Properties {
                anchor: Some("a".into()),
                tag: None
            },
            flow: true
        }));
        assert!(k.contains(&EventKind::Scalar {
            properties: Properties {
                anchor: None,
                tag: Some("tag:yaml.org,2002:str".into())
            },
            value: "1".into(),
            style: ScalarStyle::Plain
        }));
        assert_eq!(k.last(), Some(&EventKind::StreamEnd));
    }

    #[test]
    fn errors_carry_their_position_and_end_the_stream() {
        let mut events = Events::new(b"a: [1\n").unwrap();
        let err = events.by_ref().find_map(Result::err).unwrap();
        assert!(matches!(err, LibyamlError::Syntax { mark, .. } if mark.line == 1));
        assert!(events.next().is_none());
        let err = Events::new(b"a: \x01\n")
            .unwrap()
            .find_map(Result::err)
            .unwrap();
        assert!(matches!(err, LibyamlError::Reader { value: 1, .. }));
    }

    #[test]
    fn utf16_with_a_byte_order_mark_is_read() {
        let text: Vec<u8> = [0xFEFF_u16]
            .into_iter()
            .chain("a: b".encode_utf16())
            .flat_map(u16::to_le_bytes)
            .collect();
        let k = Events::new(&text).unwrap().map(|e| e.unwrap().kind);
        assert_eq!(
            k.filter(|k| matches!(k, EventKind::Scalar { .. })).count(),
            2
        );
    }
}
