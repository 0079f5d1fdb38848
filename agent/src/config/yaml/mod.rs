//! The YAML front end: bytes → [`Node`] as the reference's go-yaml v2 reads them.
//!
//! go-yaml v2 is a Go port of libyaml, so the events come from libyaml itself
//! ([`libyaml`], the only `unsafe` code, behind a safe iterator), with the few rules by
//! which go-yaml reads differently ([`go_rules`]); [`compose`] builds the tree with YAML
//! 1.1 scalar resolution ([`resolve`]) and go-yaml's mappings ([`mapping`]).

mod compose;
mod go_rules;
mod libyaml;
mod mapping;
mod resolve;

use super::node::Node;
use compose::ComposeError;
use libyaml::{LibyamlError, Mark};

/// Why a YAML document was refused; lines and columns count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    /// Not UTF-8, nor UTF-16 with a byte-order mark.
    #[error("{problem} at byte {offset}")]
    Encoding { offset: usize, problem: String },
    /// A character outside YAML 1.1's printable set.
    #[error("control character {ch:?} is not allowed at line {line}, column {column}")]
    Control {
        line: usize,
        column: usize,
        ch: char,
    },
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
}

/// Parses the first YAML document of `bytes` into a [`Node`] (`Node::Null` if there is
/// none).
pub fn parse_yaml(bytes: &[u8]) -> Result<Node, YamlError> {
    let text = go_rules::source_text(bytes);
    let result = go_rules::byte_order_marks(bytes, &text)
        .map_err(ComposeError::from)
        .and_then(|input| {
            // Most configs have no alias: no first pass over them.
            let aliased = if input.contains(&b'*') {
                compose::aliased_anchors(&input)
            } else {
                Default::default()
            };
            compose::compose(&input, &text, &aliased)
        });
    result.map_err(|e| match e {
        ComposeError::At { mark, message } => at(mark, message),
        ComposeError::Libyaml(LibyamlError::Syntax {
            problem,
            context,
            mark,
        }) => at(
            mark,
            match context {
                Some(context) => format!("{problem} ({context})"),
                None => problem,
            },
        ),
        ComposeError::Libyaml(LibyamlError::Reader {
            problem,
            offset,
            value,
        }) => reader_error(bytes, problem, offset, value),
        ComposeError::Libyaml(LibyamlError::Memory) => at(Mark::default(), "out of memory".into()),
    })
}

fn at(mark: Mark, message: String) -> YamlError {
    YamlError::Syntax {
        line: mark.line + 1,
        column: mark.column + 1,
        message,
    }
}

/// libyaml's reader error: a control character (with its position) or bad encoding. A
/// file that is not UTF-8 at all (a binary) is named so even where libyaml first met a
/// control character, as go-yaml's reader would name the bytes it had not yet read.
fn reader_error(bytes: &[u8], problem: String, offset: usize, value: i32) -> YamlError {
    let utf16 = bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]);
    if let (false, Err(e)) = (utf16, std::str::from_utf8(bytes)) {
        return YamlError::Encoding {
            offset: e.valid_up_to(),
            problem: "invalid UTF-8".into(),
        };
    }
    let control = u32::try_from(value).ok().and_then(char::from_u32);
    match control {
        Some(ch) if problem.contains("control characters") => {
            let before = go_rules::source_text(&bytes[..offset.min(bytes.len())]);
            let line_start = before
                .rfind(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
                .map_or(0, |i| {
                    i + before[i..].chars().next().map_or(1, char::len_utf8)
                });
            YamlError::Control {
                line: 1
                    + before
                        .chars()
                        .filter(|c| matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}'))
                        .count()
                    + before.matches('\r').count()
                    - before.matches("\r\n").count(),
                column: 1 + before[line_start..].chars().count(),
                ch,
            }
        }
        _ => YamlError::Encoding { offset, problem },
    }
}
