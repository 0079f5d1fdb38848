//! Escaping text that came from a report, a profile or an implementation before it goes
//! into Markdown (the compare table, the job summary) or HTML (the compare page): a name
//! is shown as written, never read as markup (issue 20: an implementation's name injected
//! Markdown into `compare`'s output).

/// `s` as literal Markdown inline text: every character Markdown or its inline HTML could
/// read is backslash-escaped, and line breaks become spaces (a table row is one line).
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '!' | '|' | '<'
            | '>' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `s` as HTML text or a double- or single-quoted attribute value.
pub fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_shown_not_read() {
        assert_eq!(
            markdown("x](http://e) | **b** <img src=x>\n"),
            "x\\]\\(http://e\\) \\| \\*\\*b\\*\\* \\<img src=x\\> "
        );
        assert_eq!(markdown("ip-masq-agent-rs 1.2.3"), "ip-masq-agent-rs 1.2.3");
        assert_eq!(
            html("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
