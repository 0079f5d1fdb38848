//! The first pass over a YAML document (nothing is built): which anchors are aliased, the
//! bound on its size, and the points where go-yaml 2.4 (YAML 1.1, the reference's parser)
//! refuses what a YAML 1.2 parser reads. Each rule was settled against the differential
//! oracle (tools/reference-parse); agent/src/config_reference_tests.rs pins them.

use crate::tree::{syntax, YamlSyntax, MAX_NODES};
use serde_saphyr::granit_parser::{Event, Marker, Parser, ScalarStyle};

/// The text from a marker on: by its byte offset (constant time), or, should a marker
/// ever lack one, by counting characters.
pub(crate) fn from<'t>(text: &'t str, m: &Marker) -> &'t str {
    match m.byte_offset() {
        Some(b) if text.is_char_boundary(b) => &text[b..],
        _ => text
            .char_indices()
            .nth(m.index())
            .map_or("", |(b, _)| &text[b..]),
    }
}

/// go-yaml reads `?` followed by a non-blank inside a flow collection as the explicit key
/// indicator and starts a new token after it (`[?1]` is `[{1: null}]`); YAML 1.2 reads a
/// plain scalar `?1`. Returns the text with a space after each such `?`, so that the
/// parser reads what go-yaml reads (columns after it on that line shift by one). Bounded:
/// each round inserts at least one space after one of the text's `?`s.
pub fn flow_keys_as_go_yaml_reads_them(text: &str) -> std::borrow::Cow<'_, str> {
    use serde_saphyr::granit_parser::StructureStyle;
    let mut text = std::borrow::Cow::Borrowed(text);
    // Most configs hold no `?`: no extra pass over them.
    for _ in 0..text.matches('?').count() {
        let mut parser = Parser::new_from_str(&text);
        let mut flow_depth = 0usize;
        let mut at = None;
        while let Some(ev) = parser.next_event() {
            // Syntax errors are for the survey to report, on the text as it stands.
            let Ok((ev, span)) = ev else { break };
            match ev {
                Event::SequenceStart(StructureStyle::Flow, ..)
                | Event::MappingStart(StructureStyle::Flow, ..) => flow_depth += 1,
                Event::SequenceEnd | Event::MappingEnd => flow_depth = flow_depth.saturating_sub(1),
                Event::Scalar(ref value, ScalarStyle::Plain, ..)
                    if flow_depth > 0 && value.starts_with('?') =>
                {
                    let offset = text.len() - from(&text, &span.start).len();
                    if text[offset..].starts_with('?') {
                        at = Some(offset + 1);
                        break;
                    }
                }
                Event::DocumentEnd | Event::StreamEnd => break,
                _ => {}
            }
        }
        match at {
            Some(i) => text = std::borrow::Cow::Owned(format!("{} {}", &text[..i], &text[i..])),
            None => return text,
        }
    }
    text
}

/// The first pass: which anchors are ever aliased, and whether the document is within
/// [`MAX_NODES`]. Nothing is built, so it costs no memory; syntax errors surface here, and
/// so do the points where go-yaml 2.4 is stricter than this YAML 1.2 parser.
pub fn survey(text: &str) -> Result<std::collections::HashSet<usize>, YamlSyntax> {
    use serde_saphyr::granit_parser::StructureStyle;
    strict_start(text)?;
    let mut options = serde_saphyr::granit_parser::Options::default();
    options.emit_anchor_events = true;
    let mut parser = Parser::new_from_str_with_options(text, options);
    let mut aliased = std::collections::HashSet::new();
    let mut nodes = 0usize;
    // Lines where a leading tab is fine: inside flow collections and quoted scalars.
    let mut sheltered: Vec<(usize, usize)> = Vec::new();
    // Open collections: style, first line, column.
    let mut styles: Vec<(StructureStyle, usize, usize)> = Vec::new();
    let mut last_line = usize::MAX;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| syntax(&e))?;
        let line = span.start.line();
        if let Some(tag) = span.tag_span() {
            // YAML 1.1 tags run to the next blank: a flow indicator right after one is
            // part of the tag for go-yaml, the end of it here.
            let raw: String = from(text, &tag.start)
                .chars()
                .take(tag.end.index().saturating_sub(tag.start.index()) + 1)
                .collect();
            if raw.chars().any(|c| ",[]{}#".contains(c)) {
                return Err(YamlSyntax {
                    line,
                    column: tag.end.col() + 1,
                    message: "a tag must be followed by a space (YAML 1.1 reads the flow indicator after it as part of the tag)".into(),
                });
            }
        }
        match ev {
            Event::Alias(id) => {
                aliased.insert(id);
            }
            Event::DocumentStart(_, Some(v)) if (v.major, v.minor) != (1, 1) => {
                return Err(YamlSyntax {
                    line,
                    column: span.start.col() + 1,
                    message: format!(
                        "found incompatible YAML document (%YAML {}.{}; go-yaml reads 1.1 only)",
                        v.major, v.minor
                    ),
                });
            }
            // A top-level block scalar with content at column 0 is empty for go-yaml (see
            // tree.rs), and the content lines come after the document: scanned as such.
            Event::Scalar(_, ScalarStyle::Literal | ScalarStyle::Folded, ..)
                if styles.is_empty() && root_block_at_column_zero(text, &span) =>
            {
                next_token_is_scannable(from(text, &span.start)).map_err(|message| YamlSyntax {
                    line,
                    column: span.start.col() + 1,
                    message,
                })?;
            }
            Event::Scalar(ref value, style, ..) => {
                if matches!(style, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted) {
                    sheltered.push((line, span.end.line()));
                }
                // `\/` is a YAML 1.2 escape; go-yaml (YAML 1.1) has no such escape.
                if style == ScalarStyle::DoubleQuoted {
                    let raw: String = from(text, &span.start)
                        .chars()
                        .take(span.end.index().saturating_sub(span.start.index()))
                        .collect();
                    let mut chars = raw.chars();
                    while let Some(c) = chars.next() {
                        if c == '\\' && chars.next() == Some('/') {
                            return Err(YamlSyntax {
                                line,
                                column: span.start.col() + 1,
                                message: "found unknown escape character '/' (YAML 1.1 has no \\/)"
                                    .into(),
                            });
                        }
                    }
                }
                let in_flow = styles.iter().any(|(s, ..)| *s == StructureStyle::Flow);
                // A plain scalar continued on later lines inside a flow collection: go-yaml
                // refuses a tab left of the enclosing block collection's indentation + 1.
                if style == ScalarStyle::Plain && in_flow && span.end.line() > line {
                    let block = styles
                        .iter()
                        .rev()
                        .find(|(s, ..)| *s == StructureStyle::Block)
                        .map(|&(_, _, col)| col);
                    if let Some(col) = block {
                        for (n, l) in text
                            .split('\n')
                            .enumerate()
                            .take(span.end.line())
                            .skip(line)
                        {
                            let lead = l.len() - l.trim_start_matches([' ', '\t']).len();
                            if let Some(tab) = l[..lead].find('\t').filter(|t| *t < col + 1) {
                                return Err(YamlSyntax {
                                    line: n + 1,
                                    column: tab + 1,
                                    message: "found a tab character that violates indentation"
                                        .into(),
                                });
                            }
                        }
                    }
                }
                // YAML 1.1 flow context: a plain scalar cannot start with ':' (`[::/0]`
                // must be quoted for go-yaml) nor contain '?'.
                if style == ScalarStyle::Plain
                    && in_flow
                    && (value.starts_with(':')
                        || value == "?"
                        || value.chars().skip(1).any(|c| c == '?'))
                {
                    return Err(YamlSyntax {
                        line,
                        column: span.start.col() + 1,
                        message: format!(
                            "{:?}: in a flow collection, quote a value that starts with ':' or contains '?'",
                            crate::config::clip(value)
                        ),
                    });
                }
            }
            // YAML 1.1 anchor names are letters, digits, '-' and '_', ended by a blank or
            // one of `?:,]}%@` and a backquote.
            // go-yaml allows one anchor per node: `&a &b x` (a tag between them or not).
            Event::Anchor(..) if second_anchor_follows(from(text, &span.end)) => {
                return Err(YamlSyntax {
                    line,
                    column: span.start.col() + 1,
                    message: "did not find expected key (two anchors, or an anchor on an alias)"
                        .into(),
                });
            }
            // An anchor alone on its line, another at the start of the next: go-yaml ends
            // the first node there (an empty scalar) and scans the second anchor with its
            // rules, where a YAML 1.2 parser folds both onto one node.
            Event::Anchor(..) if next_line_anchor_is_refused(from(text, &span.end)) => {
                return Err(YamlSyntax {
                    line: line + 1,
                    column: 1,
                    message: "mapping keys are not allowed in this context (an anchor on the line after an anchor)".into(),
                });
            }
            Event::Anchor(_, ref name)
                if !yaml11_anchor(name) || {
                    let mut after = from(text, &span.end).chars();
                    let (next, then) = (after.next(), after.next());
                    next.is_some_and(|c| !c.is_whitespace() && !"?:,]}%@`".contains(c))
                        || (next == Some('?') && then.is_none_or(char::is_whitespace))
                } =>
            {
                return Err(YamlSyntax {
                    line,
                    column: span.start.col() + 1,
                    message: format!(
                        "anchor name {:?}: only letters, digits, '-' and '_'",
                        crate::config::clip(name)
                    ),
                });
            }
            Event::SequenceStart(style, ..) | Event::MappingStart(style, ..) => {
                // `[?]`: an explicit key indicator with nothing after it, in a flow
                // sequence, is an error for go-yaml.
                if matches!(ev, Event::MappingStart(..))
                    && matches!(styles.last(), Some((StructureStyle::Flow, ..)))
                {
                    let mut after = from(text, &span.start).chars();
                    if after.next() == Some('?') {
                        let next = after.find(|c| *c != ' ');
                        if next.is_none_or(|c| ",]}".contains(c)) {
                            return Err(YamlSyntax {
                                line,
                                column: span.start.col() + 1,
                                message: "did not find expected node content after '?'".into(),
                            });
                        }
                    }
                }
                styles.push((style, line, span.start.col()));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((StructureStyle::Flow, start, _)) = styles.pop() {
                    sheltered.push((start, line));
                }
            }
            // Only the first document counts (as with go-yaml's Unmarshal).
            Event::DocumentEnd => {
                // Up to the next document, if there is one (go-yaml reads one document).
                // go-yaml's parser scans the token after the document: a malformed anchor
                // or alias there (`&a &#`, `{}*a"x"`) fails the config too. After an
                // explicit `...` it reads no further.
                let rest = from(text, &span.end);
                let before = &text[..text.len() - rest.len()];
                let rest = if before.trim_end().ends_with("...") {
                    ""
                } else {
                    rest
                };
                next_token_is_scannable(rest).map_err(|message| YamlSyntax {
                    line,
                    column: span.end.col() + 1,
                    message,
                })?;
                if let Some(Ok((Event::DocumentStart(..), next))) = parser.next_event() {
                    last_line = next.start.line().saturating_sub(1).max(line);
                }
                break;
            }
            Event::StreamEnd => break,
            _ => {}
        }
        if matches!(
            ev,
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..)
        ) {
            nodes += 1;
            if nodes > MAX_NODES {
                return Err(YamlSyntax {
                    line,
                    column: span.start.col() + 1,
                    message: format!("document has more than {MAX_NODES} values"),
                });
            }
        }
    }
    strict_tabs(text, &sheltered, last_line)?;
    Ok(aliased)
}

/// go-yaml 2.4 refuses a tab in a line's leading white space (indentation) outside flow
/// collections and quoted scalars ("found a tab character that violates indentation");
/// YAML 1.2 parsers read some of those lines. Lines up to the first document's end.
fn strict_tabs(text: &str, sheltered: &[(usize, usize)], last: usize) -> Result<(), YamlSyntax> {
    for (n, l) in text.split('\n').enumerate() {
        let line = n + 1;
        if line > last {
            break;
        }
        // Leading white space, and the white space after each block indicator (`- `, `? `)
        // that starts the line: go-yaml refuses a tab in either.
        let mut lead = l.len() - l.trim_start_matches([' ', '\t']).len();
        loop {
            let rest = &l[lead..];
            let after = rest.len()
                - rest
                    .get(1..)
                    .map_or(0, |r| r.trim_start_matches([' ', '\t']).len());
            let indicator = (rest.starts_with("- ")
                || rest.starts_with("-\t")
                || rest.starts_with("? ")
                || rest.starts_with("?\t"))
                && after > 1;
            if !indicator {
                break;
            }
            lead += after;
        }
        let Some(col) = l[..lead].find('\t') else {
            continue;
        };
        if sheltered.iter().any(|&(a, b)| a < line && line <= b) {
            continue;
        }
        return Err(YamlSyntax {
            line,
            column: col + 1,
            message: "found a tab character that violates indentation".into(),
        });
    }
    Ok(())
}

/// Whether go-yaml's scanner reads `name` as the whole anchor name: letters, digits, `-`
/// and `_` only (a YAML 1.2 name such as `a:` or `a?` ends earlier for go-yaml, which then
/// reads the rest as an indicator).
fn yaml11_anchor(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// go-yaml refuses a stream whose first token is a document end marker (`...`), and a
/// directive other than `%YAML` and `%TAG` (a YAML 1.2 parser ignores unknown ones).
fn strict_start(text: &str) -> Result<(), YamlSyntax> {
    for (n, l) in text.split('\n').enumerate() {
        let t = l.trim_start_matches([' ', '\t', '\r']);
        if let Some(d) = l.strip_prefix('%') {
            let name = d.split([' ', '\t']).next().unwrap_or("");
            if name != "YAML" && name != "TAG" {
                return Err(YamlSyntax {
                    line: n + 1,
                    column: 1,
                    message: format!(
                        "found unknown directive name {:?}",
                        crate::config::clip(name)
                    ),
                });
            }
            continue;
        }
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if l.starts_with("...") && l[3..].chars().next().is_none_or(char::is_whitespace) {
            return Err(YamlSyntax {
                line: n + 1,
                column: 1,
                message: "did not find expected node content (a document end marker first)".into(),
            });
        }
        break;
    }
    Ok(())
}

/// YAML 1.1 (go-yaml): the `:` after an implicit key is on the key's line. Given the text
/// after a key in a flow collection, whether its `:` comes only after a line break.
pub(crate) fn colon_on_a_later_line(after_key: &str) -> bool {
    let mut broke = false;
    let mut chars = after_key.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '\n' => {
                broke = true;
                chars.next();
            }
            '#' => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            ':' => return broke,
            _ => return false,
        }
    }
    false
}

/// Whether a top-level block scalar (`|` or `>`) has its first content line at column 0,
/// which YAML 1.2 allows and go-yaml (YAML 1.1, minimum indentation 1) does not. The
/// parser's span of a block scalar starts in its content (leading empty lines included),
/// after the header line.
pub(crate) fn root_block_at_column_zero(
    text: &str,
    span: &serde_saphyr::granit_parser::Span,
) -> bool {
    let at = text.len() - from(text, &span.start).len();
    let line_start = text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let header = text[..line_start].trim_end_matches(['\n', '\r']);
    // Only when the span really starts below the header (`|` or `>` with its modifiers).
    let header_line = header.rsplit(['\n', '\r']).next().unwrap_or("");
    let header_line = header_line
        .find([' ', '\t'])
        .and_then(|i| header_line[i..].find('#').map(|j| &header_line[..i + j]))
        .unwrap_or(header_line);
    let header_ends_block = header_line
        .trim_end()
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-')
        .ends_with(['|', '>']);
    header_ends_block
        && text[line_start..]
            .split(['\n', '\r'])
            .find(|l| !l.trim_start_matches(' ').is_empty())
            .is_some_and(|l| !l.starts_with([' ', '\t']))
}

/// go-yaml scans past the first document: the next token, and, while that token may
/// still be a mapping key, the tokens after it. Of what it can stumble on there, anchors and
/// aliases matter (a YAML 1.2 parser stops before them): their name must be letters,
/// digits, `-`, `_`, ended by a blank or one of `?:,]}%@` and a backquote; and tags, made
/// of URI characters up to a blank. Checked up to
/// the next document marker — further than go-yaml may look, which errs towards refusing.
fn next_token_is_scannable(rest: &str) -> Result<(), String> {
    let mut prev = ' ';
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let line_start = prev == '\n' || i == 0;
        if line_start && (rest[i..].starts_with("---") || rest[i..].starts_with("...")) {
            break;
        }
        match c {
            '#' if prev.is_whitespace() => {
                while chars.peek().is_some_and(|(_, c)| *c != '\n') {
                    chars.next();
                }
            }
            // A quoted scalar must end before the stream does.
            '\'' | '"' if prev.is_whitespace() || "[{,:".contains(prev) => {
                let mut closed = false;
                while let Some((_, q)) = chars.next() {
                    if c == '"' && q == '\\' {
                        chars.next();
                    } else if q == c {
                        if c == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') {
                            chars.next();
                        } else {
                            closed = true;
                            break;
                        }
                    }
                }
                if !closed {
                    return Err(
                        "found unexpected end of stream (a quoted scalar after the document)"
                            .into(),
                    );
                }
                // A token ends with the closing quote: a quote right after it opens the
                // next quoted scalar.
                prev = ' ';
                continue;
            }
            // A tag: go-yaml's tag scanner takes URI characters up to a blank.
            '!' if prev.is_whitespace() || "[{,".contains(prev) => {
                let tag: &str = rest[i..].split([' ', '\t', '\n']).next().unwrap_or("");
                let uri =
                    |c: char| c.is_ascii_alphanumeric() || "-_;/?:@&=+$,.!~*'()[]%".contains(c);
                if !tag.chars().all(uri) {
                    return Err(
                        "did not find expected whitespace or line break (a tag after the document)"
                            .into(),
                    );
                }
            }
            '&' | '*' if prev.is_whitespace() || "[{,".contains(prev) => {
                let name = &rest[i + 1..];
                let len = name
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
                    .count();
                let ends = name[len..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || "?:,]}%@`".contains(c));
                if len == 0 || !ends {
                    return Err("did not find expected alphabetic or numeric character (an anchor or alias after the document)".into());
                }
                // `%`, `@` and a backquote end the name but cannot start the next token.
                if name[len..].starts_with(['%', '@', '`']) {
                    return Err("found character that cannot start any token (after an anchor or alias after the document)".into());
                }
            }
            _ => {}
        }
        prev = c;
    }
    Ok(())
}

/// Whether, after an anchor that ends its line, the next line starts with an anchor that
/// go-yaml's scanner refuses: its name (letters, digits, `-`, `_`) followed by `?` or `:`
/// and a blank (a key where none may start), or by `@`, `%` or a backquote.
fn next_line_anchor_is_refused(after: &str) -> bool {
    let mut lines = after.split(['\n', '\r']);
    let rest_of_line = lines.next().unwrap_or("").trim_start_matches([' ', '\t']);
    if !(rest_of_line.is_empty() || rest_of_line.starts_with('#')) {
        return false;
    }
    let Some(next) = lines.find(|l| !l.trim().is_empty()) else {
        return false;
    };
    let Some(name) = next.trim_start_matches(' ').strip_prefix('&') else {
        return false;
    };
    let len = name
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        .count();
    let mut tail = name[len..].chars();
    match (tail.next(), tail.next()) {
        (Some('?' | ':'), None | Some(' ' | '\t')) => len > 0,
        (Some('@' | '%' | '`'), _) => len > 0,
        _ => false,
    }
}

/// Whether another anchor, or an alias, comes right after an anchor on the same line (a tag between
/// them allowed). On a later line it may belong to the next node (`&a\n&b key: v`).
fn second_anchor_follows(after: &str) -> bool {
    let line = after.split('\n').next().unwrap_or("");
    let mut rest = line.trim_start_matches([' ', '\t']);
    if rest.starts_with('!') {
        rest = rest
            .split_once([' ', '\t'])
            .map_or("", |(_, r)| r)
            .trim_start_matches([' ', '\t']);
    }
    // An alias takes no anchor either (`&x *a`).
    rest.starts_with(['&', '*'])
}
