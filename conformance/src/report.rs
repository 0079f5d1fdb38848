//! Reports beyond libtest's own lines: JUnit XML and the GitHub job summary.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use crate::case::OutcomeTable;
use crate::probe::Outcome;

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed,
    /// Failed, and listed in the profile's `expected_failures`.
    KnownFailure,
    Skipped,
}

/// One trial's record.
#[derive(Debug, Clone)]
pub struct Record {
    pub trial: String,
    pub status: Status,
    pub message: String,
    pub tables: Vec<OutcomeTable>,
    pub duration: Duration,
    /// Where the case's time went (sandbox, implementation start, waits, probes, ...).
    pub phases: Vec<(&'static str, Duration)>,
}

/// One JSON object per line and trial: `{"trial": ..., "total_ms": ..., "phases_ms": {...}}`.
pub fn timings_jsonl(records: &[Record]) -> String {
    records
        .iter()
        .map(|r| {
            let phases: serde_json::Map<String, serde_json::Value> = r
                .phases
                .iter()
                .map(|(p, d)| (p.to_string(), serde_json::json!(d.as_secs_f64() * 1e3)))
                .collect();
            serde_json::json!({
                "trial": r.trial,
                "status": format!("{:?}", r.status),
                "total_ms": r.duration.as_secs_f64() * 1e3,
                "phases_ms": phases,
            })
            .to_string()
                + "\n"
        })
        .collect()
}

/// Records of this run, filled by trials as they finish.
pub static RECORDS: Mutex<Vec<Record>> = Mutex::new(Vec::new());

/// How many records have a status that satisfies `pred`.
pub fn count(records: &[Record], pred: impl Fn(Status) -> bool) -> usize {
    records.iter().filter(|r| pred(r.status)).count()
}

/// Adds a record.
pub fn record(r: Record) {
    RECORDS.lock().expect("records poisoned").push(r);
}

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
    let failures = count(records, |s| s == Status::Failed);
    let skipped = count(records, |s| {
        matches!(s, Status::Skipped | Status::KnownFailure)
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
        match r.status {
            Status::Passed => {}
            Status::Failed => {
                write!(
                    out,
                    "<failure message=\"case failed\">{}</failure>",
                    xml_escape(&r.message)
                )
                .ok();
            }
            Status::KnownFailure => {
                write!(
                    out,
                    "<skipped message=\"known failure (expected_failures)\">{}</skipped>",
                    xml_escape(&r.message)
                )
                .ok();
            }
            Status::Skipped => {
                write!(out, "<skipped message=\"{}\"/>", xml_escape(&r.message)).ok();
            }
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("</testsuite></testsuites>\n");
    out
}

fn short(o: &Outcome) -> String {
    match o {
        Outcome::Masqueraded => "masq".into(),
        Outcome::NotMasqueraded => "kept".into(),
        Outcome::Dropped => "dropped".into(),
        Outcome::Unexpected(a) => format!("from {a}"),
    }
}

/// A markdown table: one row per trial, one column per destination of its last probe
/// step; a cell is the outcome shared by all protocols, or each protocol's.
pub fn markdown_summary(implementation: &str, records: &[Record]) -> String {
    let mut columns: Vec<String> = Vec::new();
    for r in records {
        if let Some(t) = r.tables.last() {
            for row in &t.rows {
                if !columns.contains(&row.name) {
                    columns.push(row.name.clone());
                }
            }
        }
    }
    let passed = count(records, |s| s == Status::Passed);
    let failed = count(records, |s| s == Status::Failed);
    let known = count(records, |s| s == Status::KnownFailure);
    let mut out = format!(
        "## ip-masq-agent conformance: {implementation}\n\n{passed} passed, {failed} failed, {known} known failures\n\n`kept` = arrived with the pod's address, `masq` = with the node's.\n\n| case | result |"
    );
    for c in &columns {
        write!(out, " {c} |").ok();
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by(|a, b| a.trial.cmp(&b.trial));
    for r in sorted {
        let result = match r.status {
            Status::Passed => "✅ pass",
            Status::Failed => "❌ FAIL",
            Status::KnownFailure => "⚠️ known failure",
            Status::Skipped => "⏭ skipped",
        };
        write!(out, "| `{}` | {result} |", r.trial).ok();
        for c in &columns {
            let cell = r
                .tables
                .last()
                .and_then(|t| t.rows.iter().find(|row| &row.name == c))
                .map(|row| {
                    let all: Vec<String> = row.outcomes.values().map(short).collect();
                    if all.windows(2).all(|w| w[0] == w[1]) {
                        all.first().cloned().unwrap_or_default()
                    } else {
                        row.outcomes
                            .iter()
                            .map(|(p, o)| format!("{}:{}", p.name(), short(o)))
                            .collect::<Vec<_>>()
                            .join(" ")
                    }
                })
                .unwrap_or_default();
            write!(out, " {cell} |").ok();
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_and_counts() {
        let recs = vec![
            Record {
                trial: "a::legacy".into(),
                status: Status::Passed,
                message: String::new(),
                tables: vec![],
                duration: Duration::from_millis(5),
                phases: vec![],
            },
            Record {
                trial: "b::nft".into(),
                status: Status::Failed,
                message: "x < y & \"z\"".into(),
                tables: vec![],
                duration: Duration::from_millis(5),
                phases: vec![],
            },
        ];
        let x = junit("s", &recs);
        assert!(x.contains("tests=\"2\" failures=\"1\""));
        assert!(x.contains("x &lt; y &amp; &quot;z&quot;"));
        assert!(x.contains("classname=\"b\" name=\"nft\""));
    }
}
