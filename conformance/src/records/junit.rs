//! JUnit XML of a run's records: a failure (an unlisted unstable case, an inconclusive
//! one with `type="inconclusive"`) is a `<failure>`; what the profile accepts or what did
//! not run is `<skipped>` with its reason.

use std::fmt::Write as _;

use super::{count, Record};
use crate::vocabulary::CaseState;

fn xml_escape(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// JUnit XML for `records`, one testcase per trial.
pub fn junit(suite: &str, records: &[Record]) -> String {
    let failures = records.iter().filter(|r| r.fails_run()).count();
    let listed_unstable = records
        .iter()
        .filter(|r| r.state == CaseState::Unstable && !r.fails_run())
        .count();
    let skipped = listed_unstable
        + count(records, |s| {
            matches!(
                s,
                CaseState::NotRun
                    | CaseState::Unsupported
                    | CaseState::NotApplicable
                    | CaseState::KnownFailure
            )
        });
    let total: f64 = records.iter().map(|r| r.duration.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    writeln!(
        out,
        "<testsuites><testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{total:.3}\">",
        xml_escape(suite),
        records.len()
    )
    .ok();
    for r in records {
        let (class, name) = r.trial.split_once("::").unwrap_or((&r.trial, ""));
        write!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
            xml_escape(class),
            xml_escape(name),
            r.duration.as_secs_f64()
        )
        .ok();
        match r.state {
            CaseState::Passed => {}
            CaseState::KnownFailure => {
                write!(
                    out,
                    "<skipped message=\"known failure: {}\">{}</skipped>",
                    xml_escape(r.reason.as_deref().unwrap_or_default()),
                    xml_escape(&r.headline)
                )
                .ok();
            }
            CaseState::NotRun | CaseState::Unsupported | CaseState::NotApplicable => {
                write!(out, "<skipped message=\"{}\"/>", xml_escape(&r.headline)).ok();
            }
            CaseState::Unstable if !r.fails_run() => {
                write!(
                    out,
                    "<skipped message=\"unstable: {}\">{}</skipped>",
                    xml_escape(r.reason.as_deref().unwrap_or_default()),
                    xml_escape(&r.headline)
                )
                .ok();
            }
            // Failed, and an unstable case the profile does not list.
            CaseState::Failed | CaseState::Unstable => {
                write!(
                    out,
                    "<failure message=\"{}\">{}</failure>",
                    xml_escape(&r.headline),
                    xml_escape(&r.message)
                )
                .ok();
            }
            // A failure of its own type: a CI that reads JUnit must not go green on a
            // case nobody could judge (docs/validating-an-implementation.md).
            CaseState::Inconclusive => {
                write!(
                    out,
                    "<failure type=\"inconclusive\" message=\"{}\">{}</failure>",
                    xml_escape(&r.headline),
                    xml_escape(&r.message)
                )
                .ok();
            }
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("</testsuite></testsuites>\n");
    out
}
