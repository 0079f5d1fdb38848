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

/// Rewrites a rules or listing text (`iptables-save`, normalised, or a normalised `-L`
/// listing) so that the waived aspects no longer show: what the flap compares, so that
/// its samples honour the same waivers as the snapshots.
pub fn rewrite_rules(body: &str, aspects: &[ListingAspect]) -> String {
    if aspects.is_empty() {
        return body.to_string();
    }
    rewrite(body, aspects)
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
        merge_overlapping_counters(&mut lines);
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

/// A destination prefix: the address as a u128 (IPv4 in the top bits), its length, and
/// whether it is IPv6.
type Prefix = (u128, u8, bool);

/// A listing's counter line: its packet count and destination prefix (`None` for a
/// catch-all `/0` or anything that is not a prefix).
fn counter_and_prefix(line: &str) -> Option<(u64, Option<Prefix>)> {
    let cols: Vec<&str> = line.split_whitespace().collect();
    let count = cols.first()?.parse::<u64>().ok()?;
    // pkts target prot opt in out source destination ...
    let prefix = cols
        .get(7)
        .and_then(|d| parse_prefix(d))
        .filter(|p| p.1 > 0);
    Some((count, prefix))
}

/// `10.0.0.0/8` -> (address as u128, length, IPv6?).
fn parse_prefix(text: &str) -> Option<Prefix> {
    let (addr, len) = text.split_once('/')?;
    let len: u8 = len.parse().ok()?;
    match addr.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(a) if len <= 32 => Some((u128::from(u32::from(a)) << 96, len, false)),
        std::net::IpAddr::V6(a) if len <= 128 => Some((u128::from(a), len, true)),
        _ => None,
    }
}

/// Whether two prefixes share an address (one contains the other).
fn overlap(a: Prefix, b: Prefix) -> bool {
    let bits = a.1.min(b.1);
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(bits))
    };
    a.2 == b.2 && (a.0 & mask) == (b.0 & mask)
}

/// Under `rule-order`, which of two overlapping rules counts a packet depends on their
/// order: each rule of a set of overlapping prefixes shows the set's total instead. The
/// catch-all (`/0`, the last rule) is left alone: what it counts does not depend on the
/// order of the rules before it.
fn merge_overlapping_counters(lines: &mut [String]) {
    let parsed: Vec<_> = lines.iter().map(|l| counter_and_prefix(l)).collect();
    let prefixed: Vec<(usize, u64, Prefix)> = parsed
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.and_then(|(c, pre)| pre.map(|pre| (i, c, pre))))
        .collect();
    // Connected components of the overlap relation (a tiny union-find).
    let mut group: Vec<usize> = (0..prefixed.len()).collect();
    fn root(group: &mut [usize], mut i: usize) -> usize {
        while group[i] != i {
            group[i] = group[group[i]];
            i = group[i];
        }
        i
    }
    for a in 0..prefixed.len() {
        for b in a + 1..prefixed.len() {
            if overlap(prefixed[a].2, prefixed[b].2) {
                let (ra, rb) = (root(&mut group, a), root(&mut group, b));
                group[ra] = rb;
            }
        }
    }
    let mut totals = std::collections::HashMap::<usize, (u64, usize)>::new();
    for (k, (_, count, _)) in prefixed.iter().enumerate() {
        let entry = totals.entry(root(&mut group, k)).or_default();
        entry.0 += count;
        entry.1 += 1;
    }
    for (k, (line_no, _, _)) in prefixed.iter().enumerate() {
        let (total, members) = totals[&root(&mut group, k)];
        if members > 1 {
            let line = &lines[*line_no];
            let rest = line.split_once(' ').map_or("", |(_, r)| r);
            lines[*line_no] = format!("{total} {rest}");
        }
    }
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
    fn counters_of_overlapping_rules_do_not_show_their_order() {
        let listing = |rules: &[&str]| {
            let mut text = "## listing (iptables -t nat -L X -n -v -x) after step 4\nChain X (1 references)\npkts target prot opt in out source destination\n".to_string();
            for r in rules {
                text.push_str(r);
                text.push('\n');
            }
            text
        };
        let reference = listing(&[
            "3 RETURN all -- * * 0.0.0.0/0 10.0.0.0/8",
            "0 RETURN all -- * * 0.0.0.0/0 10.96.0.0/16",
            "3 RETURN all -- * * 0.0.0.0/0 203.0.113.0/25",
            "3 RETURN all -- * * 0.0.0.0/0 203.0.113.0/24",
            "0 RETURN all -- * * 0.0.0.0/0 169.254.0.0/16",
            "3 MASQUERADE all -- * * 0.0.0.0/0 0.0.0.0/0",
        ]);
        let map_order = listing(&[
            "0 RETURN all -- * * 0.0.0.0/0 169.254.0.0/16",
            "6 RETURN all -- * * 0.0.0.0/0 203.0.113.0/24",
            "3 RETURN all -- * * 0.0.0.0/0 10.96.0.0/16",
            "0 RETURN all -- * * 0.0.0.0/0 203.0.113.0/25",
            "0 RETURN all -- * * 0.0.0.0/0 10.0.0.0/8",
            "3 MASQUERADE all -- * * 0.0.0.0/0 0.0.0.0/0",
        ]);
        let order = [ListingAspect::RuleOrder];
        assert_eq!(apply(&reference, &order), apply(&map_order, &order));
        assert!(apply(&reference, &order).contains("6 RETURN all -- * * 0.0.0.0/0 203.0.113.0/25"));
        // A rule that overlaps nothing keeps its own count, and so does the catch-all.
        let wrong = map_order.replace(
            "0 RETURN all -- * * 0.0.0.0/0 169.254.0.0/16",
            "1 RETURN all -- * * 0.0.0.0/0 169.254.0.0/16",
        );
        assert_ne!(apply(&reference, &order), apply(&wrong, &order));
        let masq = map_order.replace("3 MASQUERADE", "4 MASQUERADE");
        assert_ne!(apply(&reference, &order), apply(&masq, &order));
        // Without the waiver, the counters stay as they are.
        assert_ne!(apply(&reference, &[]), apply(&map_order, &[]));
        assert!(overlap(
            parse_prefix("fd00::/8").unwrap(),
            parse_prefix("fd00:1::/64").unwrap()
        ));
        assert!(!overlap(
            parse_prefix("10.0.0.0/8").unwrap(),
            parse_prefix("::/8").unwrap()
        ));
    }

    #[test]
    fn listing_comments_go_too() {
        assert_eq!(
            strip_comments("3 RETURN all -- * * 0.0.0.0/0 10.0.0.0/8 /* local traffic */"),
            "3 RETURN all -- * * 0.0.0.0/0 10.0.0.0/8"
        );
    }
}
