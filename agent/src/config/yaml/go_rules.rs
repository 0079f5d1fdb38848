//! Where go-yaml v2.4 (the reference's parser, a Go port of an older libyaml) reads
//! differently from libyaml 0.2.5: each rule refuses the documents on which the two would
//! disagree, so what we accept, go-yaml reads the same way. Settled against the
//! differential oracle (tools/reference-parse); docs/differences-from-reference.md.

use super::libyaml::Mark;
use std::borrow::Cow;

/// A document refused by one of these rules: what, and where (0-based, as libyaml's marks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub mark: Mark,
    pub message: &'static str,
}

/// The input as libyaml decodes it, so that its marks' byte offsets index it: UTF-16
/// (with a byte-order mark) decoded, a leading byte-order mark dropped. Bytes that are not
/// valid become U+FFFD; libyaml reports them before any mark past them matters.
pub fn source_text(bytes: &[u8]) -> Cow<'_, str> {
    let utf16 = |le: bool, rest: &[u8]| -> Cow<'_, str> {
        let units = rest.chunks_exact(2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        Cow::Owned(
            char::decode_utf16(units)
                .map(|c| c.unwrap_or('\u{fffd}'))
                .collect(),
        )
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(true, rest),
        [0xFE, 0xFF, rest @ ..] => utf16(false, rest),
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest),
        _ => String::from_utf8_lossy(bytes),
    }
}

/// go-yaml accepts only `%YAML 1.1`; libyaml also takes `%YAML 1.2`.
pub fn version(version: Option<(i32, i32)>, at: Mark) -> Result<(), Refusal> {
    match version {
        Some(v) if v != (1, 1) => Err(Refusal {
            mark: at,
            message: "found incompatible YAML document (go-yaml reads only %YAML 1.1)",
        }),
        _ => Ok(()),
    }
}

/// go-yaml ends a plain scalar inside a flow collection at `?` (and reads what follows
/// as a key); libyaml reads the `?` as part of the scalar.
pub fn flow_plain_scalar(value: &str, at: Mark) -> Result<(), Refusal> {
    if value.contains('?') {
        return Err(Refusal {
            mark: at,
            message:
                "a plain scalar in a flow collection holds '?' (go-yaml ends the scalar there)",
        });
    }
    Ok(())
}

/// go-yaml knows no `\/` escape in double quotes (libyaml 0.2.5 does). `raw` is the
/// event's text from its start mark (properties included) to its end mark.
pub fn double_quoted(raw: &str, at: Mark) -> Result<(), Refusal> {
    let Some(open) = raw.find('"') else {
        return Ok(());
    };
    let mut bytes = raw.as_bytes()[open + 1..].iter();
    while let Some(b) = bytes.next() {
        match b {
            b'"' => break,
            b'\\' if bytes.next() == Some(&b'/') => {
                return Err(Refusal {
                    mark: at,
                    message: "found unknown escape character '\\/' (go-yaml has no such escape)",
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// Inside a flow collection go-yaml reads a `,` right after a tag as part of the tag
/// (`[!!str, a]`: the tag `!!str,`); libyaml ends the tag there. `raw` is the node's text
/// from its start mark, where its properties (anchor and tag, in either order) begin.
pub fn tag_in_flow(raw: &str, at: Mark) -> Result<(), Refusal> {
    let mut rest = raw;
    loop {
        let blank = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
        if let Some(after) = rest.strip_prefix('&') {
            let name_end = after.find(|c: char| blank(c) || ",[]{}".contains(c));
            rest = after[name_end.unwrap_or(after.len())..].trim_start_matches(blank);
        } else if rest.starts_with('!') {
            let tag_end = if rest.starts_with("!<") {
                rest.find('>').map(|i| i + 1)
            } else {
                rest.find(|c: char| blank(c) || ",[]{}".contains(c))
            };
            let after = &rest[tag_end.unwrap_or(rest.len())..];
            if after.starts_with(',') {
                return Err(Refusal {
                    mark: at,
                    message: "a tag followed by ',' in a flow collection (go-yaml reads the ',' as part of the tag)",
                });
            }
            rest = after.trim_start_matches(blank);
        } else {
            return Ok(());
        }
    }
}

/// libyaml skips a byte-order mark at the start of a line; go-yaml (its `is_bom` reads
/// the buffer's first bytes, not the current ones) reads it as content. Returns the bytes
/// for libyaml: each such mark turned into U+FFFC, content for both parsers that spells
/// no key or value a config knows (the same length in UTF-8, so marks stay where they
/// were). Refused where that cannot be done: a second byte-order mark right after the
/// first (go-yaml then skips the first character of later lines), or such a mark in
/// UTF-16 or after bytes that are not UTF-8. `text` is [`source_text`] of `bytes`.
pub fn byte_order_marks<'b>(bytes: &'b [u8], text: &str) -> Result<Cow<'b, [u8]>, Refusal> {
    let marks = line_start_byte_order_marks(text);
    let Some(&(first, mark)) = marks.first() else {
        return Ok(Cow::Borrowed(bytes));
    };
    let skip = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let utf8 = !bytes.starts_with(&[0xFF, 0xFE])
        && !bytes.starts_with(&[0xFE, 0xFF])
        && std::str::from_utf8(&bytes[skip..]).is_ok();
    if first == 0 || !utf8 {
        return Err(Refusal {
            mark,
            message: "a byte-order mark at the start of a line (go-yaml reads it otherwise)",
        });
    }
    let mut out = bytes.to_vec();
    for (index, _) in marks {
        out[skip + index..skip + index + 3].copy_from_slice("\u{fffc}".as_bytes());
    }
    Ok(Cow::Owned(out))
}

/// Every U+FEFF at the start of a line of `text`: its byte offset and mark.
fn line_start_byte_order_marks(text: &str) -> Vec<(usize, Mark)> {
    let mut found = Vec::new();
    if !text.contains('\u{feff}') {
        return found;
    }
    let mut mark = Mark::default();
    let mut line_start = true;
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        if c == '\u{feff}' && line_start {
            mark.index = index;
            found.push((index, mark));
        }
        line_start = matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}');
        if c == '\r' && matches!(chars.peek(), Some((_, '\n'))) {
            continue;
        }
        if line_start {
            mark.line += 1;
            mark.column = 0;
        } else {
            mark.column += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: Mark = Mark {
        index: 0,
        line: 0,
        column: 0,
    };

    #[test]
    fn escapes() {
        assert!(double_quoted(r#""a\/b""#, AT).is_err());
        assert!(double_quoted(r#"!!str &a "a\\/b""#, AT).is_ok());
        assert!(double_quoted(r#""a" \/"#, AT).is_ok());
    }

    #[test]
    fn tags_glued_to_a_comma() {
        assert!(tag_in_flow("!!str, a]", AT).is_err());
        assert!(tag_in_flow("&x !!str, a]", AT).is_err());
        assert!(tag_in_flow("!!str &x, a]", AT).is_ok());
        assert!(tag_in_flow("!!str , a]", AT).is_ok());
        assert!(tag_in_flow("!<x,y>, a]", AT).is_err());
    }

    #[test]
    fn byte_order_marks_at_line_starts() {
        let replaced = |t: &str| byte_order_marks(t.as_bytes(), t).map(|b| b.into_owned());
        assert_eq!(
            replaced("a: b\n\u{feff}c: d").unwrap(),
            "a: b\n\u{fffc}c: d".as_bytes()
        );
        assert!(replaced("\u{feff}a: b").is_err());
        assert_eq!(replaced("a: b\u{feff}").unwrap(), "a: b\u{feff}".as_bytes());
        let doubled = b"\xEF\xBB\xBF\xEF\xBB\xBFa";
        assert!(byte_order_marks(doubled, &source_text(doubled)).is_err());
        let bad = b"a\r\nb\n\xEF\xBB\xBF\xFF";
        let err = byte_order_marks(bad, &source_text(bad)).unwrap_err();
        assert_eq!((err.mark.line, err.mark.column), (2, 0));
    }

    #[test]
    fn source_text_drops_one_byte_order_mark() {
        assert_eq!(source_text(b"\xEF\xBB\xBFa"), "a");
        assert_eq!(source_text(&[0xFF, 0xFE, b'a', 0]), "a");
        assert_eq!(source_text(&[0xFE, 0xFF, 0, b'a']), "a");
    }
}
