//! The implementation's timing as the run measured it (issue 21, item 4): its read
//! period and its delay from a read to the change of its rules, over every case, and
//! what the waits made of them (an observed period that replaced the config's hint). The
//! closing lines and the job summary say it here; the report carries the same figures
//! (`verdict::measurements`), built from the same records.

use std::fmt::Write as _;

use super::Record;
use crate::case::observed::{stat, Stat};

/// The run's measurements: every case's samples together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunMeasured {
    /// The reads the runner saw, in every case.
    pub reads: usize,
    /// Every interval between two reads of one version, in any case.
    pub read_period: Option<Stat>,
    /// Every delay from a read to the change of the rules it caused.
    pub act_delay: Option<Stat>,
    /// `(trial, note)`: what each case's waits made of its measurements.
    pub notes: Vec<(String, String)>,
}

/// The measurements of `records`, together.
pub fn of_run(records: &[Record]) -> RunMeasured {
    let all = |f: fn(&Record) -> &Vec<std::time::Duration>| {
        let samples: Vec<_> = records.iter().flat_map(|r| f(r).iter().copied()).collect();
        stat(&samples)
    };
    let mut notes: Vec<(String, String)> = records
        .iter()
        .flat_map(|r| {
            r.measurements
                .notes
                .iter()
                .map(|n| (r.trial.clone(), n.clone()))
        })
        .collect();
    notes.sort();
    RunMeasured {
        reads: records.iter().map(|r| r.measurements.reads).sum(),
        read_period: all(|r| &r.measurements.read_periods),
        act_delay: all(|r| &r.measurements.act_delays),
        notes,
    }
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// `812 reads; read period: median 301 ms, max 330 ms over 790 intervals; read to
/// action: ...`, or `None` when nothing was measured.
pub fn line(m: &RunMeasured) -> Option<String> {
    let part = |what: &str, s: &Option<Stat>, unit: &str| {
        s.map(|s| {
            format!(
                "{what}: median {}, max {} over {} {unit}{}",
                ms(s.median),
                ms(s.max),
                s.samples,
                if s.samples == 1 { "" } else { "s" }
            )
        })
    };
    let reads = match (m.reads, &m.read_period) {
        (0, _) => None,
        (n, None) => Some(format!(
            "{n} read{} (no period: no version was seen read twice)",
            if n == 1 { "" } else { "s" }
        )),
        (n, Some(_)) => Some(format!("{n} reads")),
    };
    let parts: Vec<String> = [
        reads,
        part("read period", &m.read_period, "interval"),
        part("read to action", &m.act_delay, "change"),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The closing lines' part: the measured line, then each note.
pub fn closing(records: &[Record]) -> String {
    let m = of_run(records);
    let mut out = String::new();
    if let Some(l) = line(&m) {
        writeln!(out, "\nmeasured: {l}").ok();
    }
    if !m.notes.is_empty() {
        out.push_str("\ntiming notes:\n");
    }
    for (trial, note) in &m.notes {
        writeln!(out, "  {trial}: {note}").ok();
    }
    out
}

/// The job summary's part (Markdown).
pub fn markdown(records: &[Record]) -> String {
    use crate::vocabulary::markup::markdown as md;
    let m = of_run(records);
    let mut out = String::new();
    if let Some(l) = line(&m) {
        writeln!(out, "Measured: {}.\n", md(&l)).ok();
    }
    if !m.notes.is_empty() {
        out.push_str("### Timing notes\n\n");
        for (trial, note) in &m.notes {
            writeln!(out, "- `{trial}`: {}", md(note)).ok();
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_run_measures_every_case_together_and_says_what_the_waits_made_of_it() {
        let ms = Duration::from_millis;
        let record = |trial: &str, periods: Vec<Duration>, note: Option<&str>| Record {
            measurements: crate::case::observed::Measurements {
                reads: periods.len() + 1,
                read_periods: periods,
                act_delays: vec![ms(40)],
                notes: note.map(String::from).into_iter().collect(),
            },
            ..super::super::tests::record(
                trial,
                crate::vocabulary::IptablesBackend::Nft,
                crate::vocabulary::CaseState::Passed,
                "",
            )
        };
        let recs = vec![
            record("a", vec![ms(300), ms(310)], None),
            record(
                "b",
                vec![ms(5000)],
                Some("step 6: reads showed a period of 5.0s"),
            ),
        ];
        let text = closing(&recs);
        assert!(
            text.starts_with("\nmeasured: 5 reads; read period: median 310 ms, max 5000 ms over 3 intervals; read to action: median 40 ms, max 40 ms over 2 changes\n"),
            "{text}"
        );
        assert!(
            text.contains("  b::nft: step 6: reads showed a period of 5.0s\n"),
            "{text}"
        );
        assert!(closing(&[]).is_empty());
    }
}
