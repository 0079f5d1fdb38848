//! The comparison as Markdown: the feature matrix, each implementation's root causes, and
//! the cases where they disagree, grouped (fixtures with their backends merged, fixtures
//! every implementation treats alike in one row).

use std::fmt::Write as _;

use super::{case_icon, disagreements, feature_icon, title, Cell};
use crate::records::causes::fixtures_text;
use crate::verdict::{causes_of, Report};
use crate::vocabulary::markup::markdown as md;

/// Fixtures listed in one disagreement row before the rest are counted.
const LISTED: usize = 12;

/// A cell as Markdown: `✅ passed`, `❌ failed: CAUSE`, or one part per backend.
fn cell_text(cell: &Cell) -> String {
    if cell.0.is_empty() {
        return "—".into();
    }
    cell.0
        .iter()
        .map(|(backend, state, cause)| {
            let mut s = String::new();
            if let Some(b) = backend {
                write!(s, "{b}: ").ok();
            }
            write!(s, "{} {}", case_icon(*state), state.word()).ok();
            if let Some(c) = cause {
                write!(s, ": {}", md(c)).ok();
            }
            s
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The matrix, the root causes and the grouped disagreements as Markdown.
pub fn markdown(reports: &[Report]) -> String {
    let mut out = String::from("| feature | level |");
    for r in reports {
        write!(out, " {} |", md(&title(r))).ok();
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(reports.len()));
    out.push('\n');
    for (i, f) in reports
        .first()
        .map(|r| r.features.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        write!(out, "| `{}` | {:?} |", f.feature, f.level).ok();
        for r in reports {
            let cell = r.features.get(i).map(|x| {
                format!(
                    "{} {} ({}/{})",
                    feature_icon(x.state),
                    x.state.word(),
                    x.counts.passed,
                    x.counts.ran()
                )
            });
            write!(out, " {} |", cell.unwrap_or_default()).ok();
        }
        out.push('\n');
    }
    out.push_str("| **verdict** | |");
    for r in reports {
        write!(out, " **{}** |", r.verdict.word()).ok();
    }
    out.push('\n');
    for r in reports {
        let causes = causes_of(r);
        if causes.is_empty() {
            continue;
        }
        write!(out, "\nRoot causes of {}:\n\n", md(&title(r))).ok();
        for c in causes {
            writeln!(
                out,
                "- {} {} ({} case{}): {}",
                case_icon(c.state),
                md(&c.cause),
                c.cases.len(),
                if c.cases.len() == 1 { "" } else { "s" },
                md(&fixtures_text(&c.cases))
            )
            .ok();
        }
    }
    let rows = disagreements(reports);
    if !rows.is_empty() {
        let fixtures: usize = rows.iter().map(|r| r.fixtures.len()).sum();
        write!(
            out,
            "\nCases where they disagree: {fixtures} fixture{} in {} group{} (backends merged where they agree):\n\n| cases |",
            if fixtures == 1 { "" } else { "s" },
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
        )
        .ok();
        for r in reports {
            write!(out, " {} |", md(&title(r))).ok();
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(reports.len()));
        out.push('\n');
        for row in rows {
            // (Fixture names are strict identifiers: nothing to escape in a code span.)
            let mut names: Vec<String> = row
                .fixtures
                .iter()
                .take(LISTED)
                .map(|f| format!("`{f}`"))
                .collect();
            if row.fixtures.len() > LISTED {
                names.push(format!("and {} more", row.fixtures.len() - LISTED));
            }
            write!(out, "| {} |", names.join(", ")).ok();
            for c in &row.cells {
                write!(out, " {} |", cell_text(c)).ok();
            }
            out.push('\n');
        }
    }
    out
}
