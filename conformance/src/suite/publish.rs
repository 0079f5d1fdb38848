//! Publishing a run: the closing lines, the versioned report (`--report`), the profile's
//! expected failures (`--write-expectations`), JUnit, timings and the GitHub job summary,
//! all from the records the trials wrote.

use libtest_mimic::Conclusion;

use super::plan::Plan;
use super::SuiteOptions;
use crate::records::{self, Record};
use crate::verdict::build::{build, RunFacts};
use crate::verdict::environment;
use crate::vocabulary::IptablesBackend;

/// Writes everything the options ask for (errors writing a file are printed, and do not
/// change the run's exit status).
pub fn publish(
    opts: &SuiteOptions,
    plan: &Plan,
    records: &[Record],
    conclusion: &Conclusion,
    list: bool,
) {
    if !list {
        print!(
            "{}",
            records::closing(&plan.profile.name, records, conclusion)
        );
        if !plan.coverage.is_full() {
            println!(
                "masq-conformance: verdict: partial run (restricted by {}): it certifies nothing; run the whole suite for a verdict",
                plan.coverage.restricted_by.join("; ")
            );
        }
    }
    if let Some(path) = &opts.report {
        let report = build(&RunFacts {
            profile: &plan.profile,
            profile_path: &opts.profile_path,
            profile_digest: &plan.profile_digest,
            commit: plan.commit.as_deref(),
            fixtures_digest: plan.corpus.digest(),
            coverage: &plan.coverage,
            planned: &plan.planned,
            records,
            backends: &opts.backends,
            argv: &opts.argv,
            blocker: plan.blocker.as_deref(),
            environment: environment::current(if plan.blocker.is_some() || opts.without_iptables {
                &[]
            } else {
                &opts.backends
            }),
        });
        let text = serde_json::to_string_pretty(&report).expect("a report serialises");
        match std::fs::write(path, text + "\n") {
            Ok(()) => println!("report: {} ({})", path.display(), report.verdict.word()),
            Err(e) => eprintln!("error: writing {}: {e}", path.display()),
        }
    }
    if let Some(path) = &opts.write_expectations {
        // A fixture is one entry only when it failed on every backend there is: a run of
        // one backend says nothing of the other.
        let cases = super::expectations::failing_cases(records, &IptablesBackend::ALL);
        let unstable = super::expectations::unstable_cases(records, &IptablesBackend::ALL);
        let written = std::fs::read_to_string(path).and_then(|text| {
            let text = super::expectations::add_expected_failures(&text, &cases);
            std::fs::write(
                path,
                super::expectations::add_entries(&text, "unstable", &unstable),
            )
        });
        match written {
            Ok(()) => {
                println!(
                    "{}: {} case(s) added to expected_failures with reason TODO: {cases:?}",
                    path.display(),
                    cases.len()
                );
                println!(
                    "{}: {} case(s) whose repeats disagreed added to unstable with reason TODO: {unstable:?}",
                    path.display(),
                    unstable.len()
                );
            }
            Err(e) => eprintln!("error: updating {}: {e}", path.display()),
        }
    }
    if let Some(path) = &opts.junit {
        if let Err(e) = std::fs::write(path, records::junit(&plan.suite_name, records)) {
            eprintln!("error: writing {}: {e}", path.display());
        }
    }
    if let Some(path) = &opts.timings {
        if let Err(e) = std::fs::write(path, records::timings_jsonl(records)) {
            eprintln!("error: writing {}: {e}", path.display());
        }
    }
    if let Ok(summary) = std::env::var("GITHUB_STEP_SUMMARY") {
        if !summary.is_empty() && !records.is_empty() {
            use std::io::Write;
            let mut text = records::markdown_summary(&plan.suite_name, records);
            if !plan.coverage.is_full() {
                // Under the heading: the run says what it is before what it found.
                let note = format!(
                    "> **Partial run** (restricted by {}): it certifies nothing.\n\n",
                    crate::vocabulary::markup::markdown(&plan.coverage.restricted_by.join("; "))
                );
                let at = text.find("\n\n").map_or(0, |i| i + 2);
                text.insert_str(at, &note);
            }
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&summary)
                .and_then(|mut f| f.write_all(text.as_bytes()));
            if let Err(e) = written {
                eprintln!("error: writing the job summary {summary}: {e}");
            }
        }
    }
}
