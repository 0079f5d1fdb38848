//! Named waivers of listing aspects: a profile may declare, with a reason, that some
//! aspect of the `iptables` listings does not bind its implementation (the order of rules
//! in the chain, comment text, `--random-fully`, the quoting of the jump's comment);
//! everything else in the listings stays normative. Both the snapshot and the run's
//! document are rewritten the same way before they are compared.

use serde::Deserialize;

use super::{Body, Document, Section, SectionKind};

/// An aspect of the listings that a profile can waive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListingAspect {
    /// The order of the rules within each chain.
    RuleOrder,
    /// The text of `-m comment --comment "..."` (`/* ... */` in `-L`).
    Comments,
    /// Whether MASQUERADE carries `--random-fully`.
    RandomFully,
    /// Literal `"` characters inside the POSTROUTING jump's comment (older releases of
    /// the reference wrote them).
    JumpCommentQuoting,
}

/// One waiver of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    pub aspect: ListingAspect,
    /// Why this aspect does not bind the implementation (required).
    pub reason: String,
}

/// Rewrites the rules and listing sections of `doc` so that the waived aspects no
/// longer show.
pub fn apply(doc: &Document, aspects: &[ListingAspect]) -> Document {
    if aspects.is_empty() {
        return doc.clone();
    }
    let sections = doc
        .sections
        .iter()
        .map(|s| match s.kind() {
            SectionKind::Rules | SectionKind::Listing => Section {
                heading: s.heading.clone(),
                body: Body::Text(rewrite(&s.body.render(), aspects)),
            },
            _ => s.clone(),
        })
        .collect();
    Document { sections }
}

fn rewrite(body: &str, aspects: &[ListingAspect]) -> String {
    let mut lines: Vec<String> = body
        .lines()
        .map(|l| {
            let mut l = l.to_string();
            for a in aspects {
                l = match a {
                    ListingAspect::Comments => strip_comments(&l),
                    ListingAspect::RandomFully => l
                        .replace(" --random-fully", "")
                        .replace(" random-fully", ""),
                    ListingAspect::JumpCommentQuoting if l.starts_with("-A POSTROUTING ") => {
                        l.replace("\\\"", "")
                    }
                    _ => l,
                };
            }
            l
        })
        .collect();
    if aspects.contains(&ListingAspect::RuleOrder) {
        sort_rule_runs(&mut lines);
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Removes `-m comment --comment "..."` and `/* ... */`.
fn strip_comments(line: &str) -> String {
    let mut out = line.to_string();
    if let Some(start) = out.find("-m comment --comment ") {
        let rest = &out[start + "-m comment --comment ".len()..];
        let len = if let Some(quoted) = rest.strip_prefix('"') {
            // Up to the closing quote that is not escaped.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = Some(i + 2);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            end.unwrap_or(rest.len())
        } else {
            rest.find(' ').unwrap_or(rest.len())
        };
        let cut_end = start + "-m comment --comment ".len() + len;
        out = format!("{}{}", &out[..start], out[cut_end..].trim_start());
    }
    if let (Some(a), Some(b)) = (out.find("/* "), out.rfind(" */")) {
        if a < b {
            out = format!("{}{}", &out[..a], &out[b + 3..]);
        }
    }
    out.trim_end().to_string()
}

/// Sorts each run of consecutive rule lines (`-A ...` in a save, counter lines in a
/// listing), keeping everything else in place.
fn sort_rule_runs(lines: &mut [String]) {
    let is_rule = |l: &str| {
        l.starts_with("-A ")
            || l.split_whitespace()
                .next()
                .is_some_and(|t| t.parse::<u64>().is_ok())
    };
    let mut i = 0;
    while i < lines.len() {
        if is_rule(&lines[i]) {
            let start = i;
            while i < lines.len() && is_rule(&lines[i]) {
                i += 1;
            }
            lines[start..i].sort();
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "## outcome after step 2\nkeep \"this\"\n## rules (iptables-save -t nat) after step 2\n-A POSTROUTING -m comment --comment \"\\\"ip-masq-agent: x\\\"\" -j IP-MASQ-AGENT\n-A IP-MASQ-AGENT -d 10.0.0.0/8 -m comment --comment \"local\" -j RETURN\n-A IP-MASQ-AGENT -d 1.0.0.0/8 -m comment --comment \"local\" -j RETURN\n-A IP-MASQ-AGENT -j MASQUERADE --random-fully\n";

    fn apply(doc: &str, aspects: &[ListingAspect]) -> String {
        super::apply(&Document::parse(doc), aspects).render()
    }

    #[test]
    fn waived_aspects_vanish_from_listings_only() {
        let out = apply(
            DOC,
            &[
                ListingAspect::Comments,
                ListingAspect::RandomFully,
                ListingAspect::RuleOrder,
            ],
        );
        assert!(out.contains("keep \"this\""));
        assert!(!out.contains("--comment"), "{out}");
        assert!(!out.contains("random-fully"), "{out}");
        let rules: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("-A IP-MASQ"))
            .collect();
        assert_eq!(
            rules,
            [
                "-A IP-MASQ-AGENT -d 1.0.0.0/8 -j RETURN",
                "-A IP-MASQ-AGENT -d 10.0.0.0/8 -j RETURN",
                "-A IP-MASQ-AGENT -j MASQUERADE"
            ]
        );
    }

    #[test]
    fn jump_quoting_is_waived_on_the_jump_alone() {
        let out = apply(DOC, &[ListingAspect::JumpCommentQuoting]);
        assert!(
            out.contains("-A POSTROUTING -m comment --comment \"ip-masq-agent: x\" -j"),
            "{out}"
        );
        assert_eq!(apply(DOC, &[]), DOC);
    }

    #[test]
    fn listing_comments_go_too() {
        assert_eq!(
            strip_comments("3 RETURN all -- * * 0.0.0.0/0 10.0.0.0/8 /* local traffic */"),
            "3 RETURN all -- * * 0.0.0.0/0 10.0.0.0/8"
        );
    }
}
