//! What the agent reads back from iptables' text output: an `iptables -S` rule split
//! into its arguments (to recognise the POSTROUTING jump, whatever its comment's quoting)
//! and the version `iptables --version` prints (for `--random-fully`). Pure: no I/O, so it
//! is tested on the exact lines iptables 1.4 to 1.8 print.

/// Splits an `iptables -S` line into its arguments: words separated by spaces, `"..."`
/// quoting one argument, `\"` and `\\` escaped inside quotes (how iptables prints
/// comments).
pub fn split_rule(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ' ' | '\t' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            _ => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Finds `vX.Y.Z` (or `vX.Y`) in `iptables --version` output, e.g. `iptables v1.8.9 (legacy)`.
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let start = text
        .find(" v")
        .map(|i| i + 2)
        .or_else(|| text.strip_prefix('v').map(|_| 1))?;
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = token.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::{parse_version, split_rule};
    use crate::datapath::iptables::postrouting_jump_args;

    #[test]
    fn listed_jumps() {
        let line = r#"-A POSTROUTING -m comment --comment "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom IP-MASQ-AGENT chain" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT"#;
        let words = split_rule(line);
        assert_eq!(words[..2], ["-A", "POSTROUTING"]);
        assert_eq!(words[2..], postrouting_jump_args("IP-MASQ-AGENT")[..]);
        // The v2.10-v2.12 jump with literal quotes inside its comment is another rule.
        let stale = r#"-A POSTROUTING -m comment --comment "\"ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom IP-MASQ-AGENT chain\"" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT"#;
        assert!(split_rule(stale)[5].starts_with('"'));
        assert_ne!(
            split_rule(stale)[2..],
            postrouting_jump_args("IP-MASQ-AGENT")[..]
        );
        assert_eq!(
            split_rule("-P POSTROUTING ACCEPT"),
            ["-P", "POSTROUTING", "ACCEPT"]
        );
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("iptables v1.8.9 (legacy)\n"), Some((1, 8, 9)));
        assert_eq!(parse_version("iptables v1.6.2"), Some((1, 6, 2)));
        assert_eq!(parse_version("iptables v1.6 foo"), Some((1, 6, 0)));
        assert_eq!(parse_version("v1.4.21"), Some((1, 4, 21)));
        assert_eq!(parse_version("garbage"), None);
        assert!(parse_version("iptables v1.6.1").unwrap() < (1, 6, 2));
    }
}
