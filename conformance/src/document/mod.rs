//! The snapshot document of a case: its sections as typed values, with one parser
//! ([`Document::parse`]) and one renderer ([`Document::render`]) side by side, so that
//! what a case writes and what the suite reads back cannot drift. The rendered text is
//! what the reviewed `.snap` files hold (see ARCHITECTURE.md).
//!
//! A document is a sequence of sections, each starting with a `## ` heading line:
//! `## outcome after step N` (for flows from elsewhere than the pod, e.g.
//! `## outcome (from node main address) after step N`), `## rules (iptables-save -t nat) after step N`,
//! `## listing (iptables -t nat -L CHAIN -n -v -x) after step N`, the implementation's
//! own `## nftables ...`, and the notes of some steps (`## terminate after step N`, ...).

use crate::vocabulary::{Direction, Family, OutcomeTable};

pub mod corpus;
mod heading;
pub mod judge;
pub mod mismatch;
pub mod store;
mod table;
pub mod waivers;

pub use heading::{Heading, SectionKind};
pub use mismatch::Mismatch;
pub use table::{cell_text, render_table};

/// A case's snapshot document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub sections: Vec<Section>,
}

/// One section: its heading and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: Heading,
    pub body: Body,
}

/// A section's body: an outcome table, or text (listings, notes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Table(OutcomeTable),
    Text(String),
}

impl Body {
    pub fn render(&self) -> String {
        match self {
            Body::Table(t) => render_table(t),
            Body::Text(s) => s.clone(),
        }
    }
}

impl Section {
    /// The outcome table of the probe before step `step`.
    pub fn outcome(step: usize, table: &OutcomeTable) -> Section {
        Section {
            heading: Heading::Outcome {
                direction: table.direction,
                step,
            },
            body: Body::Table(table.clone()),
        }
    }

    /// A normalised `iptables-save -t nat`.
    pub fn rules(step: usize, family: Family, normalised: &str) -> Section {
        Section {
            heading: Heading::Rules { family, step },
            body: Body::Text(nat_or_empty(normalised)),
        }
    }

    /// A normalised chain listing with counters (or the error iptables gave).
    pub fn listing(step: usize, family: Family, chain: &str, normalised: &str) -> Section {
        Section {
            heading: Heading::Listing {
                family,
                chain: chain.to_string(),
                step,
            },
            body: Body::Text(normalised.to_string()),
        }
    }

    /// The implementation's nftables, normalised: with packet counters (`listing`) or
    /// without any (`rules`).
    pub fn nft(step: usize, counters: bool, normalised: &str) -> Section {
        Section {
            heading: Heading::Nft { counters, step },
            body: Body::Text(normalised.to_string()),
        }
    }

    /// What a step observed in words (`## terminate after step N` and its line).
    pub fn note(what: &str, step: usize, text: String) -> Section {
        Section {
            heading: Heading::Note {
                what: what.to_string(),
                step,
            },
            body: Body::Text(text),
        }
    }

    pub fn kind(&self) -> SectionKind {
        self.heading.kind()
    }

    pub fn render(&self) -> String {
        self.heading.render() + &self.body.render()
    }
}

impl Document {
    /// Reads a rendered document back. Lossless: `parse(text).render() == text` for every
    /// text (a heading or an outcome table that is not exactly as the renderer writes it
    /// stays text).
    pub fn parse(text: &str) -> Document {
        let mut raw: Vec<(String, String)> = Vec::new();
        for line in text.split_inclusive('\n') {
            if line.starts_with("## ") || raw.is_empty() {
                raw.push((line.to_string(), String::new()));
            } else if let Some(last) = raw.last_mut() {
                last.1.push_str(line);
            }
        }
        let sections = raw
            .into_iter()
            .map(|(head, body)| {
                let heading = Heading::parse(&head);
                let body = match &heading {
                    Heading::Outcome { direction, .. } => table::parse_table(*direction, &body)
                        .map(Body::Table)
                        .unwrap_or(Body::Text(body)),
                    _ => Body::Text(body),
                };
                Section { heading, body }
            })
            .collect();
        Document { sections }
    }

    /// The text of the snapshot.
    pub fn render(&self) -> String {
        self.sections.iter().map(Section::render).collect()
    }

    pub fn push(&mut self, section: Section) {
        self.sections.push(section);
    }

    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// The sections for which `keep` holds, in order.
    pub fn filtered(&self, keep: impl Fn(&Section) -> bool) -> Document {
        Document {
            sections: self.sections.iter().filter(|s| keep(s)).cloned().collect(),
        }
    }

    /// The document without its IPv6 outcome rows: for an implementation that always
    /// does IPv6 (profile `ipv6: always`) in a case that does not enable it, whose IPv6
    /// cells say what the reference does with IPv6 off.
    pub fn without_ipv6_rows(&self) -> Document {
        let mut doc = self.clone();
        for s in &mut doc.sections {
            if let Body::Table(t) = &mut s.body {
                t.rows.retain(|r| !r.address.is_ipv6());
            }
        }
        doc
    }

    /// The outcome section after step `step` of flows from `direction`.
    pub fn outcome(&self, step: usize, direction: Direction) -> Option<&Body> {
        let heading = Heading::Outcome { direction, step };
        self.sections
            .iter()
            .find(|s| s.heading == heading)
            .map(|s| &s.body)
    }

    /// Replaces the rule sections with those of `stored`, so that only outcomes can
    /// differ (profiles with `rule_listings: waived`).
    pub fn with_stored_rules(&self, stored: &Document) -> Document {
        let sections = self
            .sections
            .iter()
            .map(|s| match s.kind() {
                SectionKind::Rules | SectionKind::Listing => stored
                    .sections
                    .iter()
                    .find(|t| t.heading == s.heading)
                    .cloned()
                    .unwrap_or_else(|| s.clone()),
                _ => s.clone(),
            })
            .collect();
        Document { sections }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waived_rules_keep_stored_listing_but_not_outcomes() {
        let stored = Document::parse("## outcome\na\n## rules (iptables-save -t nat)\nOLD\n");
        let actual = Document::parse("## outcome\nb\n## rules (iptables-save -t nat)\nNEW\n");
        assert_eq!(
            actual.with_stored_rules(&stored).render(),
            "## outcome\nb\n## rules (iptables-save -t nat)\nOLD\n"
        );
    }

    #[test]
    fn outcome_headings_read_back() {
        for d in Direction::ALL {
            let head = Heading::Outcome {
                direction: d,
                step: 12,
            }
            .render();
            assert_eq!(
                Heading::parse(&head),
                Heading::Outcome {
                    direction: d,
                    step: 12
                }
            );
        }
        assert_eq!(
            Heading::Outcome {
                direction: Direction::Pod,
                step: 4
            }
            .render(),
            "## outcome after step 4\n"
        );
        assert_eq!(
            Heading::Outcome {
                direction: Direction::NodeMainAddress,
                step: 4
            }
            .render(),
            "## outcome (from node main address) after step 4\n"
        );
        assert_eq!(
            Heading::parse("## outcome (from mars) after step 4\n"),
            Heading::Other("## outcome (from mars) after step 4\n".into())
        );
    }

    #[test]
    fn sections_split_by_mark() {
        let doc = Document::parse("## outcome after step 2\na\n## rules (x)\nR\n## nftables rules (nft list table) after step 3\nN\n");
        assert_eq!(
            doc.filtered(|s| s.kind() == SectionKind::Nft).render(),
            "## nftables rules (nft list table) after step 3\nN\n"
        );
        assert_eq!(
            doc.filtered(|s| !s.kind().is_listing()).render(),
            "## outcome after step 2\na\n"
        );
    }

    #[test]
    fn written_sections_read_back() {
        let mut doc = Document::default();
        doc.push(Section::rules(2, Family::V6, ""));
        doc.push(Section::listing(3, Family::V4, "X", "l\n"));
        let text = doc.render();
        let read = Document::parse(&text);
        assert_eq!(read, doc);
        assert_eq!(
            read.sections[0].heading.render(),
            "## rules (ip6tables-save -t nat) after step 2\n"
        );
        assert!(read.sections[0]
            .body
            .render()
            .starts_with("*nat\n:PREROUTING ACCEPT\n"));
        assert_eq!(read.sections[1].body.render(), "l\n");
    }

    #[test]
    fn every_reviewed_snapshot_reads_back_byte_for_byte_with_typed_tables() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/snapshots");
        let mut files = 0;
        let mut tables = 0;
        let mut pending = vec![dir];
        while let Some(d) = pending.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let Some(body) = store::stored_body(&path) else {
                    continue;
                };
                files += 1;
                let doc = Document::parse(&body);
                assert_eq!(doc.render(), body, "{}", path.display());
                for s in &doc.sections {
                    if let Heading::Outcome { .. } = s.heading {
                        assert!(
                            matches!(s.body, Body::Table(_)),
                            "{}: an outcome table that does not read back: {:?}",
                            path.display(),
                            s.heading
                        );
                        tables += 1;
                    }
                }
            }
        }
        assert!(
            files > 100 && tables > 100,
            "{files} snapshots, {tables} tables"
        );
    }
}
