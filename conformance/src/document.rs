//! The snapshot document of a case: the sections a case writes, and the code that reads
//! them back (to waive listings, to compare), side by side so that they cannot drift.
//!
//! A document is a sequence of sections, each starting with a `## ` heading line:
//! `## outcome after step N` (for flows from elsewhere than the pod, e.g.
//! `## outcome (from node main address) after step N`), `## rules (iptables-save -t nat) after step N`,
//! `## listing (iptables -t nat -L CHAIN -n -v -x) after step N`, and the `## terminate`
//! and `## flap` notes.

use std::path::Path;

use crate::vocabulary::Direction;
use crate::vocabulary::Family;
use crate::vocabulary::OutcomeTable;

/// Section headings that carry rule listings (waivable per profile).
pub const RULES_MARK: &str = "## rules";
pub const LISTING_MARK: &str = "## listing";
pub const OUTCOME_MARK: &str = "## outcome";
/// Sections of an implementation's own nftables listing (its regression snapshot).
pub const NFT_MARK: &str = "## nftables";

/// The outcome table of the probe before step `step`.
pub fn outcome_section(step: usize, table: &OutcomeTable) -> String {
    format!(
        "{}{}",
        outcome_heading(step, table.direction),
        table.render()
    )
}

/// The heading line of an outcome section (pod flows: `## outcome after step N`, as
/// before directions existed).
pub fn outcome_heading(step: usize, direction: Direction) -> String {
    format!(
        "{OUTCOME_MARK}{} after step {step}\n",
        direction.heading_note()
    )
}

/// Reads an outcome section's heading line back: its direction and step.
pub fn parse_outcome_heading(head: &str) -> Option<(Direction, usize)> {
    let rest = head.strip_prefix(OUTCOME_MARK)?.trim_end();
    let (note, step) = rest.rsplit_once(" after step ")?;
    Some((Direction::from_heading_note(note)?, step.parse().ok()?))
}

/// A normalised `iptables-save -t nat`.
pub fn rules_section(step: usize, family: Family, normalised: &str) -> String {
    format!(
        "{RULES_MARK} ({} -t nat) after step {step}\n{}",
        family.iptables_save(),
        nat_or_empty(normalised)
    )
}

/// A normalised chain listing with counters (or the error iptables gave).
pub fn listing_section(step: usize, family: Family, chain: &str, normalised: &str) -> String {
    format!(
        "{LISTING_MARK} ({} -t nat -L {chain} -n -v -x) after step {step}\n{normalised}",
        family.iptables()
    )
}

/// The implementation's nftables, normalised: with packet counters (`listing`) or
/// without any (`rules`).
pub fn nft_section(step: usize, counters: bool, normalised: &str) -> String {
    let what = if counters { "with counters" } else { "rules" };
    format!("{NFT_MARK} {what} (nft list table) after step {step}\n{normalised}")
}

/// The sections of `doc` whose heading starts with one of `marks`, or (`keep` false)
/// all the others, in order.
pub fn sections_marked(doc: &str, marks: &[&str], keep: bool) -> String {
    split_sections(doc)
        .into_iter()
        .filter(|(head, _)| marks.iter().any(|m| head.starts_with(m)) == keep)
        .map(|(h, b)| format!("{h}{b}"))
        .collect()
}

/// A nat table the kernel never instantiated in the namespace (nothing touched it yet)
/// prints nothing; it behaves exactly like an empty one, so it is shown as one. Whether
/// an implementation happened to touch the table without writing rules is not a
/// behaviour the suite asserts.
fn nat_or_empty(save: &str) -> String {
    if save.trim().is_empty() {
        "*nat\n:PREROUTING ACCEPT\n:INPUT ACCEPT\n:OUTPUT ACCEPT\n:POSTROUTING ACCEPT\nCOMMIT\n"
            .into()
    } else {
        save.to_string()
    }
}

/// Replaces the rule sections of `actual` with those of `stored`, so that only outcomes
/// can differ (profiles with `rule_listings: waived`).
pub fn with_stored_rules(actual: &str, stored: &str) -> String {
    let stored_sections = split_sections(stored);
    split_sections(actual)
        .into_iter()
        .map(|(head, body)| {
            if head.starts_with(RULES_MARK) || head.starts_with(LISTING_MARK) {
                let kept = stored_sections
                    .iter()
                    .find(|(h, _)| *h == head)
                    .map(|(_, b)| b.clone())
                    .unwrap_or(body);
                (head, kept)
            } else {
                (head, body)
            }
        })
        .map(|(h, b)| format!("{h}{b}"))
        .collect()
}

/// `(heading line, body)` pairs, in order.
pub fn split_sections(doc: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in doc.split_inclusive('\n') {
        if line.starts_with("## ") || out.is_empty() {
            out.push((line.to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push_str(line);
        }
    }
    out
}

/// The body of a stored insta snapshot (after its `---` header), if the file exists.
pub fn stored_body(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(rest[end + 5..].to_string())
}

/// A row of a rendered outcome table: name (`flow NAME` for a flow row), address, and
/// the cells by protocol (`unexpected ADDRESS` is one cell).
pub fn parse_outcome_row(line: &str) -> Option<(String, String, Vec<String>)> {
    let mut tokens = line.split_whitespace();
    let name = tokens.next()?.to_string();
    // A flow row is named `flow NAME`.
    let (name, address) = if name == "flow" {
        let flow = tokens.next()?;
        (format!("flow {flow}"), tokens.next()?.to_string())
    } else {
        (name, tokens.next()?.to_string())
    };
    let mut cells = Vec::new();
    while let Some(t) = tokens.next() {
        if t == "unexpected" {
            cells.push(format!("unexpected {}", tokens.next().unwrap_or("?")));
        } else {
            cells.push(t.to_string());
        }
    }
    Some((name, address, cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waived_rules_keep_stored_listing_but_not_outcomes() {
        let stored = "## outcome\na\n## rules (iptables-save -t nat)\nOLD\n";
        let actual = "## outcome\nb\n## rules (iptables-save -t nat)\nNEW\n";
        assert_eq!(
            with_stored_rules(actual, stored),
            "## outcome\nb\n## rules (iptables-save -t nat)\nOLD\n"
        );
    }

    #[test]
    fn outcome_headings_read_back() {
        for d in Direction::ALL {
            let head = outcome_heading(12, d);
            assert_eq!(parse_outcome_heading(&head), Some((d, 12)));
        }
        assert_eq!(
            outcome_heading(4, Direction::Pod),
            "## outcome after step 4\n"
        );
        assert_eq!(
            outcome_heading(4, Direction::NodeMainAddress),
            "## outcome (from node main address) after step 4\n"
        );
        assert_eq!(
            parse_outcome_heading("## outcome (from mars) after step 4\n"),
            None
        );
    }

    #[test]
    fn sections_split_by_mark() {
        let doc = "## outcome after step 2\na\n## rules (x)\nR\n## nftables rules (nft list table) after step 3\nN\n";
        assert_eq!(
            sections_marked(doc, &[NFT_MARK], true),
            "## nftables rules (nft list table) after step 3\nN\n"
        );
        assert_eq!(
            sections_marked(doc, &[RULES_MARK, NFT_MARK], false),
            "## outcome after step 2\na\n"
        );
    }

    #[test]
    fn written_sections_read_back() {
        let doc = rules_section(2, Family::V6, "") + &listing_section(3, Family::V4, "X", "l\n");
        let sections = split_sections(&doc);
        assert_eq!(sections.len(), 2);
        assert_eq!(
            sections[0].0,
            "## rules (ip6tables-save -t nat) after step 2\n"
        );
        assert!(sections[0].1.starts_with("*nat\n:PREROUTING ACCEPT\n"));
        assert_eq!(sections[1].1, "l\n");
    }
}
