//! `masq-conformance compare REPORT...`: implementations side by side — features as rows,
//! implementations as columns, a cell per state — as Markdown (for a job summary or a
//! README) and as one self-contained HTML page (no network, no external assets); and the
//! regressions of a report against a baseline.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{CaseState, FeatureState, Report};

fn feature_cell(state: FeatureState) -> (&'static str, &'static str) {
    match state {
        FeatureState::Passed => ("✅", "passed"),
        FeatureState::Partial => ("⚠️", "partial"),
        FeatureState::Failed => ("❌", "failed"),
        FeatureState::Unsupported => ("➖", "unsupported"),
        FeatureState::NotRun => ("⏸", "not-run"),
        FeatureState::Unobserved => ("❔", "unobserved"),
    }
}

fn case_cell(state: CaseState) -> (&'static str, &'static str) {
    match state {
        CaseState::Passed => ("✅", "passed"),
        CaseState::KnownFailure => ("⚠️", "known-failure"),
        CaseState::Failed => ("❌", "failed"),
        CaseState::Unsupported => ("➖", "unsupported"),
        CaseState::NotRun => ("⏸", "not-run"),
        CaseState::NotApplicable => ("⏭", "not-applicable"),
        CaseState::Unstable => ("🎲", "unstable"),
    }
}

/// A verdict as people write it.
pub fn verdict_label(v: super::RunVerdict) -> &'static str {
    use super::RunVerdict;
    match v {
        RunVerdict::Conformant => "conformant",
        RunVerdict::PartiallyConformant => "partially conformant",
        RunVerdict::NonConformant => "non-conformant",
        RunVerdict::Incomplete => "incomplete",
        RunVerdict::PartialRun => "partial run",
    }
}

/// The implementation and its version, as written (escape it for the output).
fn title(r: &Report) -> String {
    match &r.implementation.version {
        Some(v) => format!("{} {v}", r.implementation.name),
        None => r.implementation.name.clone(),
    }
}

/// Every case name of the reports, sorted.
fn case_names(reports: &[Report]) -> Vec<String> {
    let names: BTreeSet<String> = reports
        .iter()
        .flat_map(|r| {
            r.cases
                .iter()
                .map(|c| format!("{}::{}", c.fixture, c.backend))
        })
        .collect();
    names.into_iter().collect()
}

fn state_of<'a>(r: &'a Report, case: &str) -> Option<&'a super::CaseRecord> {
    r.cases
        .iter()
        .find(|c| format!("{}::{}", c.fixture, c.backend) == case)
}

/// The cases whose states differ between the reports.
fn disagreements(reports: &[Report]) -> Vec<String> {
    case_names(reports)
        .into_iter()
        .filter(|case| {
            let states: BTreeSet<Option<&str>> = reports
                .iter()
                .map(|r| state_of(r, case).map(|c| case_cell(c.state).1))
                .collect();
            states.len() > 1
        })
        .collect()
}

/// The matrix as Markdown.
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
                let (icon, word) = feature_cell(x.state);
                format!(
                    "{icon} {word} ({}/{})",
                    x.counts.passed,
                    x.counts.passed + x.counts.failed + x.counts.known_failures
                )
            });
            write!(out, " {} |", cell.unwrap_or_default()).ok();
        }
        out.push('\n');
    }
    out.push_str("| **verdict** | |");
    for r in reports {
        write!(out, " **{}** |", verdict_label(r.verdict)).ok();
    }
    out.push('\n');
    let differ = disagreements(reports);
    if !differ.is_empty() {
        out.push_str("\nCases where they disagree:\n\n| case |");
        for r in reports {
            write!(out, " {} |", md(&title(r))).ok();
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(reports.len()));
        out.push('\n');
        for case in differ {
            write!(out, "| {} |", md(&case)).ok();
            for r in reports {
                let cell = state_of(r, &case)
                    .map(|c| {
                        let (icon, word) = case_cell(c.state);
                        format!("{icon} {word}")
                    })
                    .unwrap_or_else(|| "—".into());
                write!(out, " {cell} |").ok();
            }
            out.push('\n');
        }
    }
    out
}

use crate::vocabulary::markup::{html as esc, markdown as md};

/// The matrix as one self-contained HTML page: features as rows, implementations as
/// columns, a coloured cell per state, the reason on hover.
pub fn html(reports: &[Report]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ip-masq-agent conformance</title>\n<style>\nbody{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1b1f24;background:#fff}\nh1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}\ntable{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:.35em .7em;text-align:left}\nth{background:#f6f8fa}td.passed{background:#dafbe1}td.partial,td.known-failure{background:#fff8c5}\ntd.failed{background:#ffebe9;font-weight:600}td.unsupported{background:#f6f8fa;color:#57606a}td.not-run{background:#ddf4ff}\n.core{font-weight:600}.verdict td{font-weight:700}.legend span{display:inline-block;margin-right:1em;padding:.1em .5em;border:1px solid #d0d7de}\n</style></head><body>\n<h1>ip-masq-agent conformance</h1>\n",
    );
    out.push_str("<p class=\"legend\"><span style=\"background:#dafbe1\">passed</span><span style=\"background:#fff8c5\">partial / known failure</span><span style=\"background:#ffebe9\">failed</span><span style=\"background:#f6f8fa\">unsupported</span><span style=\"background:#ddf4ff\">not run</span></p>\n");
    out.push_str("<table><tr><th>feature</th>");
    for r in reports {
        write!(
            out,
            "<th title=\"suite {} {} · {} · iptables {}\">{}</th>",
            esc(&r.suite.version),
            esc(r.suite.commit.as_deref().unwrap_or("")),
            esc(&r.environment.distribution),
            esc(&r
                .environment
                .iptables
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")),
            esc(&title(r))
        )
        .ok();
    }
    out.push_str("</tr>\n");
    let features = reports
        .first()
        .map(|r| r.features.clone())
        .unwrap_or_default();
    for (i, f) in features.iter().enumerate() {
        let class = if f.level == crate::vocabulary::Level::Core {
            "core"
        } else {
            ""
        };
        write!(
            out,
            "<tr><td class=\"{class}\">{}</td>",
            esc(&f.feature.name())
        )
        .ok();
        for r in reports {
            match r.features.get(i) {
                Some(x) => {
                    let (_, word) = feature_cell(x.state);
                    let reasons: Vec<String> = r
                        .cases
                        .iter()
                        .filter(|c| c.features.contains(&x.feature) && c.state != CaseState::Passed)
                        .map(|c| {
                            format!(
                                "{}::{}: {}",
                                c.fixture,
                                c.backend,
                                c.reason
                                    .clone()
                                    .unwrap_or_else(|| case_cell(c.state).1.to_string())
                            )
                        })
                        .collect();
                    write!(
                        out,
                        "<td class=\"{word}\" title=\"{}\">{word} {}/{}</td>",
                        esc(&reasons.join("\n")),
                        x.counts.passed,
                        x.counts.passed + x.counts.failed + x.counts.known_failures
                    )
                    .ok();
                }
                None => out.push_str("<td></td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("<tr class=\"verdict\"><td>verdict</td>");
    for r in reports {
        write!(out, "<td>{}</td>", verdict_label(r.verdict)).ok();
    }
    out.push_str("</tr></table>\n");
    let differ = disagreements(reports);
    if !differ.is_empty() {
        out.push_str("<h2>Cases where they disagree</h2>\n<table><tr><th>case</th>");
        for r in reports {
            write!(out, "<th>{}</th>", esc(&title(r))).ok();
        }
        out.push_str("</tr>\n");
        for case in differ {
            write!(out, "<tr><td>{}</td>", esc(&case)).ok();
            for r in reports {
                match state_of(r, &case) {
                    Some(c) => {
                        let (_, word) = case_cell(c.state);
                        write!(
                            out,
                            "<td class=\"{word}\" title=\"{}\">{word}</td>",
                            esc(c.reason.as_deref().unwrap_or(""))
                        )
                        .ok();
                    }
                    None => out.push_str("<td>—</td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// Cases that passed in `baseline` and do not pass in `current`.
pub fn regressions(baseline: &Report, current: &Report) -> Vec<String> {
    baseline
        .cases
        .iter()
        .filter(|b| b.state == CaseState::Passed)
        .filter_map(|b| {
            let name = format!("{}::{}", b.fixture, b.backend);
            let now = state_of(current, &name).map(|c| c.state);
            match now {
                Some(CaseState::Passed) => None,
                Some(state) => Some(format!(
                    "{name}: passed in the baseline, {} now",
                    case_cell(state).1
                )),
                None => Some(format!("{name}: passed in the baseline, missing now")),
            }
        })
        .collect()
}

/// A shields.io endpoint document for a report's verdict.
pub fn badge(report: &Report) -> String {
    use super::RunVerdict;
    let message = verdict_label(report.verdict);
    let color = match report.verdict {
        RunVerdict::Conformant => "brightgreen",
        RunVerdict::PartiallyConformant => "yellow",
        RunVerdict::NonConformant => "red",
        RunVerdict::Incomplete | RunVerdict::PartialRun => "lightgrey",
    };
    serde_json::json!({
        "schemaVersion": 1,
        "label": "ip-masq-agent conformance",
        "message": match &report.implementation.version {
            Some(v) => format!("{message} ({v})"),
            None => message.to_string(),
        },
        "color": color,
    })
    .to_string()
}
