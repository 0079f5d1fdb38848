//! Comparing a case's document with its reviewed snapshot, and saying what differs in a
//! way a maintainer can act on in a minute: the first differing step, the outcome tables
//! side by side with the differing cells marked, unified diffs of the listings.

use std::fmt::Write as _;

use super::{cell_text, Body, Document, Heading, SectionKind};
use crate::vocabulary::{Direction, OutcomeTable, Proto};

/// How a document differs from its snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The step of the first differing section (its heading says "after step N").
    pub step: Option<usize>,
    /// One line: what differs first (for JUnit's `message` and summaries).
    pub headline: String,
    /// Everything that differs, section by section.
    pub detail: String,
    /// Each difference on its own (a differing outcome cell, a differing section), so
    /// that a known failure can say which of them it covers (`expected_failures` with
    /// `step`, `cells` or `message`).
    pub differences: Vec<Difference>,
}

/// One thing that differs from the snapshot, or one way a case failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The step it is about, when it is about one.
    pub step: Option<usize>,
    /// The outcome cell, when it is one.
    pub cell: Option<Cell>,
    /// What differs, in one line (`rfc1918-10/udp expected ..., got ...`, `rules ... differs`).
    pub text: String,
}

/// One cell of an outcome table: where the flows started, the row, the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub direction: Direction,
    /// The row's name (`rfc1918-10`; from `world`, the source's).
    pub destination: String,
    /// The row's address.
    pub address: String,
    pub proto: Proto,
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.destination, self.proto.name())?;
        if self.direction != Direction::Pod {
            write!(f, " (from {})", self.direction.name())?;
        }
        Ok(())
    }
}

/// Every outcome cell in which `a` and `b` differ, with the text of each side: the
/// cells a repeat changed (used to name the cells of an unstable case).
pub fn differing_cells(a: &Document, b: &Document) -> Vec<(Option<usize>, Cell)> {
    let mut out = Vec::new();
    let mut headings: Vec<&Heading> = Vec::new();
    for s in a.sections.iter().chain(&b.sections) {
        if matches!(s.body, Body::Table(_)) && !headings.contains(&&s.heading) {
            headings.push(&s.heading);
        }
    }
    let table = |doc: &'_ Document, heading: &Heading| -> Option<OutcomeTable> {
        doc.sections
            .iter()
            .find(|s| s.heading == *heading)
            .and_then(|s| match &s.body {
                Body::Table(t) => Some(t.clone()),
                Body::Text(_) => None,
            })
    };
    for heading in headings {
        let empty = OutcomeTable::default();
        let (ta, tb) = (table(a, heading), table(b, heading));
        let (ta, tb) = (ta.as_ref().unwrap_or(&empty), tb.as_ref().unwrap_or(&empty));
        let direction = ta
            .rows
            .first()
            .map(|_| ta.direction)
            .unwrap_or(tb.direction);
        for (_, _, cell) in cell_differences(ta, tb, direction) {
            out.push((heading.step(), cell));
        }
    }
    out
}

/// The text of `cell` after step `step` in `doc` (`-` when the document has none).
pub fn cell_outcome(doc: &Document, step: Option<usize>, cell: &Cell) -> String {
    let body = step.and_then(|s| doc.outcome(s, cell.direction));
    match body {
        Some(Body::Table(t)) => t
            .rows
            .iter()
            .find(|r| r.name == cell.destination)
            .map(|r| cell_text(r, cell.proto))
            .unwrap_or_else(|| "-".into()),
        _ => "-".into(),
    }
}

/// The cells of `expected` and `actual` that differ: (expected text, actual text, cell).
fn cell_differences(
    expected: &OutcomeTable,
    actual: &OutcomeTable,
    direction: Direction,
) -> Vec<(String, String, Cell)> {
    let mut names: Vec<(String, String)> = expected
        .rows
        .iter()
        .map(|r| (r.name.clone(), r.address.to_string()))
        .collect();
    for r in &actual.rows {
        if !names.iter().any(|(m, _)| *m == r.name) {
            names.push((r.name.clone(), r.address.to_string()));
        }
    }
    let mut out = Vec::new();
    for (name, address) in names {
        let cell = |table: &OutcomeTable, p: Proto| -> String {
            table
                .rows
                .iter()
                .find(|r| r.name == name)
                .map(|r| cell_text(r, p))
                .unwrap_or_else(|| "-".into())
        };
        for proto in Proto::ALL {
            let (e, a) = (cell(expected, proto), cell(actual, proto));
            if e != a {
                out.push((
                    e,
                    a,
                    Cell {
                        direction,
                        destination: name.clone(),
                        address: address.clone(),
                        proto,
                    },
                ));
            }
        }
    }
    out
}

/// Compares `actual` with `expected` section by section; `None` when they agree.
pub fn compare(expected: &Document, actual: &Document) -> Option<Mismatch> {
    if expected.render().trim_end() == actual.render().trim_end() {
        return None;
    }
    let mut headings: Vec<&Heading> = expected.sections.iter().map(|s| &s.heading).collect();
    for s in &actual.sections {
        if !headings.contains(&&s.heading) {
            headings.push(&s.heading);
        }
    }
    let body_of = |doc: &'_ Document, heading: &Heading| -> Option<Body> {
        doc.sections
            .iter()
            .find(|s| s.heading == *heading)
            .map(|s| s.body.clone())
    };
    let mut first: Option<(Option<usize>, String)> = None;
    let mut detail = String::new();
    let mut differences = Vec::new();
    for heading in headings {
        let e = body_of(expected, heading);
        let a = body_of(actual, heading);
        let (e_text, a_text) = (e.as_ref().map(Body::render), a.as_ref().map(Body::render));
        if e_text == a_text {
            continue;
        }
        let title = heading.title();
        let step = heading.step();
        let before = differences.len();
        if let (Some(Body::Table(e)), Some(Body::Table(a))) = (&e, &a) {
            differences.extend(cell_differences(e, a, e.direction).into_iter().map(
                |(ec, ac, cell)| Difference {
                    step,
                    text: format!("{cell} expected {ec}, got {ac}"),
                    cell: Some(cell),
                },
            ));
        }
        let (line, body) = match (e, a) {
            (Some(Body::Table(e)), Some(Body::Table(a))) => outcome_difference(&e, &a),
            (Some(e), Some(a)) => (
                format!("{title} differs"),
                similar::TextDiff::from_lines(&e.render(), &a.render())
                    .unified_diff()
                    .context_radius(3)
                    .header("snapshot", "actual")
                    .to_string(),
            ),
            (Some(e), None) => (
                format!("{title}: in the snapshot, missing from this run"),
                e.render(),
            ),
            (None, Some(a)) => (format!("{title}: not in the snapshot"), a.render()),
            (None, None) => continue,
        };
        let kind = match heading.kind() {
            SectionKind::Rules | SectionKind::Listing => " (normalised)",
            _ => "",
        };
        writeln!(detail, "{title}{kind}:\n{}", body.trim_end()).ok();
        if differences.len() == before {
            // Not a cell of two tables: the section as a whole.
            differences.push(Difference {
                step,
                cell: None,
                text: line.clone(),
            });
        }
        if first.is_none() {
            first = Some((step, line));
        }
    }
    let (step, headline) = first.unwrap_or((None, "the document differs".into()));
    Some(Mismatch {
        step,
        headline,
        detail,
        differences,
    })
}

/// Expected and actual outcome tables side by side; `*` marks a cell that differs.
fn outcome_difference(expected: &OutcomeTable, actual: &OutcomeTable) -> (String, String) {
    let protos: Vec<&str> = Proto::ALL.iter().map(|p| p.name()).collect();
    let mut names: Vec<(String, String)> = expected
        .rows
        .iter()
        .map(|r| (r.name.clone(), r.address.to_string()))
        .collect();
    for r in &actual.rows {
        if !names.iter().any(|(m, _)| *m == r.name) {
            names.push((r.name.clone(), r.address.to_string()));
        }
    }
    let width = 17;
    // `destination`, or `source` for inbound flows (the table's own first column).
    let label = expected.direction.row_label();
    let mut out = format!(
        "{:<14} {:<20} | {:<w$}| actual (* = differs)\n{:<14} {:<20} | ",
        "",
        "",
        "expected",
        label,
        "address",
        w = width * protos.len()
    );
    for p in &protos {
        write!(out, "{p:<width$}").ok();
    }
    out.push_str("| ");
    for p in &protos {
        write!(out, "{p:<width$}").ok();
    }
    out = out.trim_end().to_string() + "\n";
    let mut differing = Vec::new();
    for (name, address) in &names {
        let cells = |table: &OutcomeTable| -> Vec<String> {
            table
                .rows
                .iter()
                .find(|r| r.name == *name)
                .map(|r| Proto::ALL.iter().map(|&p| cell_text(r, p)).collect())
                .unwrap_or_default()
        };
        let (e, a) = (cells(expected), cells(actual));
        let mut line = format!("{name:<14} {address:<20} | ");
        for i in 0..protos.len() {
            write!(
                line,
                "{:<width$}",
                e.get(i).map(String::as_str).unwrap_or("-")
            )
            .ok();
        }
        line.push_str("| ");
        for (i, proto) in protos.iter().enumerate() {
            let (ec, ac) = (
                e.get(i).map(String::as_str).unwrap_or("-"),
                a.get(i).map(String::as_str).unwrap_or("-"),
            );
            let mark = if ec == ac {
                ""
            } else {
                differing.push(format!("{name}/{proto} expected {ec}, got {ac}"));
                "*"
            };
            write!(line, "{:<width$}", format!("{ac}{mark}")).ok();
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let headline = match differing.len() {
        0 => "outcome table differs in layout".to_string(),
        1 => differing[0].clone(),
        n => format!("{} (and {} more cells)", differing[0], n - 1),
    };
    (headline, out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::document::Section;
    use crate::vocabulary::{Direction, Outcome, OutcomeRow};

    fn row(name: &str, address: &str, cells: [Outcome; 3]) -> OutcomeRow {
        OutcomeRow {
            name: name.into(),
            address: address.parse().unwrap(),
            outcomes: Proto::ALL.into_iter().zip(cells).collect(),
            notes: BTreeMap::new(),
        }
    }

    fn outcome_doc(step: usize, rows: Vec<OutcomeRow>) -> Document {
        let table = OutcomeTable {
            rows,
            direction: Direction::Pod,
        };
        Document {
            sections: vec![Section::outcome(step, &table)],
        }
    }

    #[test]
    fn equal_documents_agree() {
        let m = Outcome::Masqueraded;
        let doc = outcome_doc(2, vec![row("internet", "203.0.113.10", [m, m, m])]);
        assert_eq!(compare(&doc, &doc), None);
    }

    #[test]
    fn outcome_cells_that_differ_are_marked_and_named() {
        let (m, k) = (Outcome::Masqueraded, Outcome::NotMasqueraded);
        let odd = Outcome::Unexpected("10.9.9.9".parse().unwrap());
        let e = outcome_doc(
            4,
            vec![
                row("rfc1918-10", "10.96.0.10", [k, k, k]),
                row("internet", "203.0.113.10", [m, m, m]),
            ],
        );
        let a = outcome_doc(
            4,
            vec![
                row("rfc1918-10", "10.96.0.10", [m, k, odd]),
                row("internet", "203.0.113.10", [m, m, m]),
            ],
        );
        let m = compare(&e, &a).unwrap();
        assert_eq!(m.step, Some(4));
        assert_eq!(
            m.headline,
            "rfc1918-10/udp expected not-masqueraded, got masqueraded (and 1 more cells)"
        );
        let row = m
            .detail
            .lines()
            .find(|l| l.starts_with("rfc1918-10"))
            .unwrap();
        assert!(row.contains("masqueraded*"), "{row}");
        assert!(row.contains("unexpected 10.9.9.9*"), "{row}");
        let internet = m
            .detail
            .lines()
            .find(|l| l.starts_with("internet"))
            .unwrap();
        assert!(!internet.contains('*'), "{internet}");
    }

    #[test]
    fn listings_get_a_unified_diff_and_missing_sections_are_named() {
        let e = Document::parse(
            "## rules (iptables-save -t nat) after step 3\n*nat\n-A X -j RETURN\nCOMMIT\n",
        );
        let a = Document::parse("## rules (iptables-save -t nat) after step 3\n*nat\nCOMMIT\n## terminate after step 5\nexited\n");
        let m = compare(&e, &a).unwrap();
        assert_eq!(m.step, Some(3));
        assert!(m
            .headline
            .starts_with("rules (iptables-save -t nat) after step 3 differs"));
        assert!(m.detail.contains("--A X -j RETURN"), "{}", m.detail);
        assert!(
            m.detail
                .contains("terminate after step 5: not in the snapshot")
                || m.detail.contains("terminate after step 5:\nexited"),
            "{}",
            m.detail
        );
    }
}
