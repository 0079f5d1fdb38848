//! Comparing a case's document with its reviewed snapshot, and saying what differs in a
//! way a maintainer can act on in a minute: the first differing step, the outcome tables
//! side by side with the differing cells marked, unified diffs of the listings.

use std::fmt::Write as _;

use crate::document::{split_sections, LISTING_MARK, OUTCOME_MARK, RULES_MARK};

/// How a document differs from its snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The step of the first differing section (its heading says "after step N").
    pub step: Option<usize>,
    /// One line: what differs first (for JUnit's `message` and summaries).
    pub headline: String,
    /// Everything that differs, section by section.
    pub detail: String,
}

/// Compares `actual` with `expected` section by section; `None` when they agree.
pub fn compare(expected: &str, actual: &str) -> Option<Mismatch> {
    if expected.trim_end() == actual.trim_end() {
        return None;
    }
    let exp = split_sections(expected);
    let act = split_sections(actual);
    let mut headings: Vec<&str> = exp.iter().map(|(h, _)| h.as_str()).collect();
    for (h, _) in &act {
        if !headings.contains(&h.as_str()) {
            headings.push(h);
        }
    }
    let mut first: Option<(Option<usize>, String)> = None;
    let mut detail = String::new();
    for heading in headings {
        let e = exp
            .iter()
            .find(|(h, _)| h == heading)
            .map(|(_, b)| b.as_str());
        let a = act
            .iter()
            .find(|(h, _)| h == heading)
            .map(|(_, b)| b.as_str());
        if e == a {
            continue;
        }
        let title = heading.trim_end().trim_start_matches("## ");
        let step = step_of(heading);
        let (line, body) = match (e, a) {
            (Some(e), Some(a)) if heading.starts_with(OUTCOME_MARK) => outcome_difference(e, a),
            (Some(e), Some(a)) => (
                format!("{title} differs"),
                similar::TextDiff::from_lines(e, a)
                    .unified_diff()
                    .context_radius(3)
                    .header("snapshot", "actual")
                    .to_string(),
            ),
            (Some(e), None) => (
                format!("{title}: in the snapshot, missing from this run"),
                e.to_string(),
            ),
            (None, Some(a)) => (format!("{title}: not in the snapshot"), a.to_string()),
            (None, None) => continue,
        };
        let kind = if heading.starts_with(RULES_MARK) || heading.starts_with(LISTING_MARK) {
            " (normalised)"
        } else {
            ""
        };
        writeln!(detail, "{title}{kind}:\n{}", body.trim_end()).ok();
        if first.is_none() {
            first = Some((step, line));
        }
    }
    let (step, headline) = first.unwrap_or((None, "the document differs".into()));
    Some(Mismatch {
        step,
        headline,
        detail,
    })
}

/// The step number in a heading "... after step N".
fn step_of(heading: &str) -> Option<usize> {
    heading
        .trim_end()
        .rsplit_once("after step ")
        .and_then(|(_, n)| n.trim().parse().ok())
}

/// A parsed table row: name, address, cells.
type Row = (String, String, Vec<String>);

fn parse_table(body: &str) -> (Vec<String>, Vec<Row>) {
    let mut lines = body.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(2)
        .map(str::to_string)
        .collect();
    let rows = lines
        .filter_map(crate::document::parse_outcome_row)
        .collect();
    (header, rows)
}

/// Expected and actual outcome tables side by side; `*` marks a cell that differs.
fn outcome_difference(expected: &str, actual: &str) -> (String, String) {
    let (protos, exp_rows) = parse_table(expected);
    let (_, act_rows) = parse_table(actual);
    let mut names: Vec<(String, String)> = exp_rows
        .iter()
        .map(|(n, a, _)| (n.clone(), a.clone()))
        .collect();
    for (n, a, _) in &act_rows {
        if !names.iter().any(|(m, _)| m == n) {
            names.push((n.clone(), a.clone()));
        }
    }
    let width = 17;
    // `destination`, or `source` for inbound flows (the table's own first column).
    let label = expected
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("destination");
    let mut out = format!(
        "{:<14} {:<20} | {:<w$}| actual (* = differs)\n{:<14} {:<20} | ",
        "",
        "",
        "expected",
        label,
        "address",
        w = width * protos.len().max(1)
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
        let cells = |rows: &[Row]| {
            rows.iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, _, c)| c.clone())
                .unwrap_or_default()
        };
        let (e, a) = (cells(&exp_rows), cells(&act_rows));
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
    use super::*;

    const HEAD: &str =
        "destination    address              udp              tcp              icmp\n";

    #[test]
    fn equal_documents_agree() {
        let doc = format!("## outcome after step 2\n{HEAD}internet 203.0.113.10 masqueraded masqueraded masqueraded\n");
        assert_eq!(compare(&doc, &doc), None);
    }

    #[test]
    fn outcome_cells_that_differ_are_marked_and_named() {
        let e = format!("## outcome after step 4\n{HEAD}rfc1918-10 10.96.0.10 not-masqueraded not-masqueraded not-masqueraded\ninternet 203.0.113.10 masqueraded masqueraded masqueraded\n");
        let a = format!("## outcome after step 4\n{HEAD}rfc1918-10 10.96.0.10 masqueraded not-masqueraded unexpected 10.9.9.9\ninternet 203.0.113.10 masqueraded masqueraded masqueraded\n");
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
        let e = "## rules (iptables-save -t nat) after step 3\n*nat\n-A X -j RETURN\nCOMMIT\n";
        let a = "## rules (iptables-save -t nat) after step 3\n*nat\nCOMMIT\n## terminate after step 5\nexited\n";
        let m = compare(e, a).unwrap();
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
