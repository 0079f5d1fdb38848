//! Cases nobody could judge, and what was measured (issue 21, item 4): an `inconclusive`
//! case is counted as such in the report, JUnit, the closing lines, the job summary and
//! the compare page, keeps the run from `conformant` (`incomplete`), and is grouped by
//! cause like a failure, as are unstable cases; the run's measurements are a report
//! field. A report of the version before (v2) still loads.

use std::time::Duration;

use masq_conformance::case::observed::Measurements;
use masq_conformance::profile::Profile;
use masq_conformance::records::{self, Record};
use masq_conformance::verdict::verify::verify;
use masq_conformance::verdict::{comparison, Coverage, RunVerdict};
use masq_conformance::vocabulary::{CaseState, Instability};
use serde_json::json;

use crate::reports::{genuine, in_tree_profile, report_with, suite, whole_run};

const UNSEEN: &str = "step 6 (wait): inconclusive: this wait rests on reads the runner cannot see, and the config before the one published at step 5 went unread for 3.1s, longer than its resyncInterval (300.0ms) allows, with no whole period seen: set resync_period in the profile";

/// A whole run of the in-tree profile in which the cases resting on unseen reads were
/// inconclusive, one case was unstable (not listed), and every case measured reads.
fn run() -> Vec<Record> {
    let profile = Profile::load(&in_tree_profile()).unwrap();
    let mut records = whole_run(&profile, |name, _| {
        name.starts_with("config-directory")
            .then_some(CaseState::Inconclusive)
    });
    let ms = Duration::from_millis;
    for r in &mut records {
        r.measurements = Measurements {
            reads: 4,
            read_periods: vec![ms(300), ms(310), ms(5000)],
            act_delays: vec![ms(40)],
            notes: vec![],
        };
        if r.state == CaseState::Inconclusive {
            r.headline = UNSEEN.into();
            r.failing_step = Some(6);
        }
        if r.trial == "bad-cidr-after-good::nft" {
            r.state = CaseState::Unstable;
            r.headline = "unstable: its 2 repeats disagree (passed in 1)".into();
            r.unstable = Some(Instability {
                listed: false,
                repeats: vec![
                    "passed".into(),
                    "failed: step 6 (wait): the implementation exited (exit status: 3)".into(),
                ],
                differing_cells: vec![],
            });
        }
        if r.trial == "config-directory-after-good::legacy" {
            r.measurements.notes = vec!["step 6: reads showed a period of 5.0s, longer than the config's 300.0ms: it waited with the observed one".into()];
        }
    }
    records
}

#[test]
fn an_inconclusive_case_keeps_the_report_incomplete_and_is_grouped_by_its_cause() {
    let records = run();
    let inconclusive = records
        .iter()
        .filter(|r| r.state == CaseState::Inconclusive)
        .count();
    assert!(inconclusive >= 2, "the corpus has config-directory cases");
    let report = report_with(&in_tree_profile(), &records, Coverage::full());
    assert_eq!(report.summary.inconclusive, inconclusive);
    assert_eq!(
        report.verdict,
        RunVerdict::NonConformant,
        "the unlisted unstable case"
    );
    let v = serde_json::to_value(&report).unwrap();
    // The causes name the inconclusive cases' message and what the unstable case
    // sometimes does.
    let causes = v["causes"].as_array().unwrap();
    let of = |state: &str| -> Vec<String> {
        causes
            .iter()
            .filter(|c| c["state"] == state)
            .map(|c| c["cause"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        of("inconclusive"),
        ["wait: inconclusive: this wait rests on reads the runner cannot see, and the config before the one published at step N went unread for Ns, longer than its resyncInterval (Nms) allows, with no whole period seen: set resync_period in the profile"]
    );
    assert_eq!(
        of("unstable"),
        ["sometimes: wait: the implementation exited (exit status: 3)"]
    );
    // Measurements: the run's over every case, each case's own, and the notes.
    let m = &v["measurements"];
    assert_eq!(m["reads"], 4 * records.len());
    assert_eq!(m["read_period"]["samples"], 3 * records.len());
    assert_eq!(m["read_period"]["median_ms"], 310.0);
    assert_eq!(m["read_period"]["max_ms"], 5000.0);
    assert_eq!(m["read_to_action"]["median_ms"], 40.0);
    assert!(
        m["notes"][0].as_str().unwrap().starts_with(
            "config-directory-after-good::legacy: step 6: reads showed a period of 5.0s"
        ),
        "{m}"
    );
    let case = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["fixture"] == "config-directory-after-good")
        .unwrap();
    assert_eq!(case["state"], "inconclusive");
    assert_eq!(case["measurements"]["read_period"]["samples"], 3);
    // Genuine, it verifies; without the unstable case it is incomplete, never conformant.
    assert_eq!(
        verify(&v.to_string(), &suite()).unwrap().verdict,
        RunVerdict::NonConformant
    );
    let mut records = records;
    for r in &mut records {
        if r.state == CaseState::Unstable {
            r.state = CaseState::Passed;
            r.unstable = None;
            r.headline.clear();
        }
    }
    let report = report_with(&in_tree_profile(), &records, Coverage::full());
    assert_eq!(report.verdict, RunVerdict::Incomplete);
    let v = serde_json::to_value(&report).unwrap();
    assert_eq!(
        verify(&v.to_string(), &suite()).unwrap().verdict,
        RunVerdict::Incomplete
    );
    let mut forged = v.clone();
    forged["verdict"] = json!("conformant");
    let problems = verify(&forged.to_string(), &suite()).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("verdict says conformant; the cases give incomplete")),
        "{problems:#?}"
    );
    // Its cause may not be left out of a v3 report.
    let mut uncaused = v;
    uncaused["causes"] = json!([]);
    let problems = verify(&uncaused.to_string(), &suite()).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("is inconclusive but under no cause")),
        "{problems:#?}"
    );
}

#[test]
fn junit_the_closing_lines_the_summary_and_the_page_count_it() {
    let records = run();
    let junit = records::junit("s", &records);
    assert!(
        junit.contains(
            "<failure type=\"inconclusive\" message=\"step 6 (wait): inconclusive: this wait"
        ),
        "{junit}"
    );
    let conclusion = libtest_mimic::Conclusion {
        num_filtered_out: 0,
        num_passed: 0,
        num_failed: 0,
        num_ignored: 0,
        num_measured: 0,
    };
    let text = records::closing("impl", &records, &conclusion);
    for needle in [
        "\ninconclusive (the verdict rests on reads the runner could not see):\n  config-directory-after-good on legacy, nft (identically): step 6 (wait): inconclusive",
        "\ninconclusive, by root cause:\n  wait: inconclusive: this wait rests on reads",
        "\nunstable, by root cause:\n  sometimes: wait: the implementation exited (exit status: 3) (1 case): bad-cidr-after-good (nft)\n",
        "\nmeasured: ",
        " reads; read period: median 310 ms, max 5000 ms over ",
        "\ntiming notes:\n  config-directory-after-good::legacy: step 6: reads showed a period of 5.0s",
        " inconclusive (not judged: failing the run), ",
    ] {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }
    let md = records::markdown_summary("impl", &records);
    assert!(md.contains("### Inconclusive cases by root cause"), "{md}");
    assert!(md.contains("### Unstable cases by root cause"), "{md}");
    assert!(md.contains(" reads; read period: median 310 ms"), "{md}");
    assert!(md.contains("❔ INCONCLUSIVE"), "{md}");
    let report = report_with(&in_tree_profile(), &records, Coverage::full());
    let page = comparison::html(&[report]);
    // Counted among the cases of their feature, never as passed.
    assert!(page.contains("✗</span> failed 55/60"), "{page}");
    assert!(
        page.contains(" known failures · 1 unstable · 4 inconclusive<br>"),
        "{page}"
    );
    assert!(
        page.contains(
            "<td class=\"inconclusive\"><span class=\"i-bad\">?</span> inconclusive</td>"
        ),
        "{page}"
    );
    assert!(page.contains("<td class=\"unstable\"><span class=\"i-warn\">≈</span> unstable</td><td class=\"why\">sometimes: wait: the implementation exited"), "{page}");
}

#[test]
fn a_v2_report_still_loads() {
    let mut v = genuine();
    assert_eq!(v["apiVersion"], "masq-conformance.report/v3");
    v["apiVersion"] = json!("masq-conformance.report/v2");
    assert_eq!(
        verify(&v.to_string(), &suite()).unwrap().verdict,
        RunVerdict::Conformant
    );
    v["apiVersion"] = json!("masq-conformance.report/v1");
    let problems = verify(&v.to_string(), &suite()).unwrap_err();
    assert!(
        problems.iter().any(|p| p
            .contains("this suite reads masq-conformance.report/v3, masq-conformance.report/v2")),
        "{problems:#?}"
    );
}
