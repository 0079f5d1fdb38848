//! Reports that prove what ran (issue 20, item 5): each shape of report the issue found
//! `verify-report` accepting is refused now, with a message naming the entry. Each test
//! edits a genuine full report (or builds an honest one of that shape) and shows the
//! message.

use masq_conformance::profile::{ListingKind, Profile};
use masq_conformance::verdict::verify::verify;
use masq_conformance::verdict::{comparison, Coverage, RunVerdict};
use masq_conformance::vocabulary::{CaseState, Feature};
use serde_json::{json, Value};

use crate::reports::{genuine, in_tree_profile, report_with, suite, whole_run};

/// The problems `verify` finds in `v`; fails when it verifies.
fn refused(v: &Value) -> Vec<String> {
    match verify(&v.to_string(), &suite()) {
        Ok(r) => panic!("verified ({:?}), should have been refused", r.verdict),
        Err(p) => p,
    }
}

/// Asserts one problem contains every one of `needles`, and prints it (the message the
/// user sees).
fn says(problems: &[String], needles: &[&str]) {
    let hit = problems
        .iter()
        .find(|p| needles.iter().all(|n| p.contains(n)));
    match hit {
        Some(p) => eprintln!("refused: {p}"),
        None => panic!("no problem says {needles:?}: {problems:#?}"),
    }
}

fn cases(v: &mut Value) -> &mut Vec<Value> {
    v["cases"].as_array_mut().unwrap()
}

#[test]
fn a_report_of_another_corpus_is_refused_naming_the_digest_and_version_it_needs() {
    let mut v = genuine();
    let other = format!("sha256:{}", "0".repeat(64));
    v["suite"]["fixtures_digest"] = json!(other);
    let p = refused(&v);
    says(
        &p,
        &[
            &other,
            "a report of another corpus",
            &suite().digest,
            &format!("masq-conformance {}", env!("CARGO_PKG_VERSION")),
            "the suite's version is the masq-conformance crate's version",
        ],
    );
}

#[test]
fn a_partial_run_never_verifies() {
    let profile = Profile::load(&in_tree_profile()).unwrap();
    let records = whole_run(&profile, |_, _| None);
    let restricted = Coverage::restricted_by(vec![
        "--fixtures /tmp/one: its corpus is not the suite's own".into(),
    ]);
    let report = report_with(&in_tree_profile(), &records, restricted);
    assert_eq!(report.verdict, RunVerdict::PartialRun);
    let p = refused(&serde_json::to_value(&report).unwrap());
    says(
        &p,
        &[
            "coverage: partial (restricted by --fixtures /tmp/one",
            "a partial run never verifies as conformant",
        ],
    );
    // Turned into a full one by hand, the verdict no longer adds up.
    let mut v = serde_json::to_value(&report).unwrap();
    v["coverage"]["state"] = json!("full");
    says(&refused(&v), &["coverage: full, yet restricted by"]);
}

#[test]
fn a_partial_run_with_one_easy_fixture_is_refused_even_claiming_full_coverage() {
    // The attack: one easy fixture, every other case simply absent.
    let mut v = genuine();
    let keep = v["cases"][0].clone();
    *cases(&mut v) = vec![keep];
    let p = refused(&v);
    says(
        &p,
        &[
            "case(s) of the suite missing from a report that claims full coverage",
            "more",
        ],
    );
}

#[test]
fn half_the_cases_deleted_are_refused_naming_them() {
    let mut v = genuine();
    let all = cases(&mut v);
    let half = all.len() / 2;
    let gone = format!(
        "{}::{}",
        all[half]["fixture"].as_str().unwrap(),
        all[half]["backend"].as_str().unwrap()
    );
    all.truncate(half);
    let p = refused(&v);
    says(
        &p,
        &["missing from a report that claims full coverage", &gone],
    );
}

#[test]
fn zero_cases_with_every_feature_unsupported_is_refused() {
    let mut v = genuine();
    cases(&mut v).clear();
    for f in v["features"].as_array_mut().unwrap() {
        f["supported"] = json!(false);
        f["state"] = json!("unsupported");
    }
    let p = refused(&v);
    says(&p, &["case(s) of the suite missing"]);
    says(
        &p,
        &["feature defaults is core: it can never be unsupported"],
    );
}

#[test]
fn a_core_feature_marked_unsupported_is_refused() {
    let mut v = genuine();
    for f in v["features"].as_array_mut().unwrap() {
        if f["feature"] == "healing" {
            f["supported"] = json!(false);
            f["state"] = json!("unsupported");
        }
    }
    says(
        &refused(&v),
        &["feature healing is core: it can never be unsupported"],
    );
}

#[test]
fn a_duplicated_case_is_refused() {
    let mut v = genuine();
    let first = v["cases"][0].clone();
    let name = format!(
        "{}::{}",
        first["fixture"].as_str().unwrap(),
        first["backend"].as_str().unwrap()
    );
    cases(&mut v).push(first);
    says(&refused(&v), &[&format!("case {name:?} appears 2 times")]);
}

#[test]
fn a_path_like_case_is_refused() {
    let mut v = genuine();
    v["cases"][0]["fixture"] = json!("../../etc/passwd");
    says(
        &refused(&v),
        &["case \"../../etc/passwd::", "is not a case name"],
    );
}

#[test]
fn a_made_up_fixture_is_refused() {
    let mut v = genuine();
    v["cases"][0]["fixture"] = json!("made-up");
    says(
        &refused(&v),
        &["case \"made-up::", "the suite has no fixture \"made-up\""],
    );
}

#[test]
fn a_made_up_backend_is_refused() {
    let mut v = genuine();
    v["cases"][0]["backend"] = json!("quantum");
    says(
        &refused(&v),
        &["backend \"quantum\" is not one of the suite's (legacy, nft)"],
    );
}

#[test]
fn a_case_with_other_features_than_its_fixture_is_refused() {
    let mut v = genuine();
    v["cases"][0]["features"] = json!(["ipv6"]);
    says(&refused(&v), &["features [Ipv6] are not its fixture's"]);
}

#[test]
fn a_case_counted_for_a_feature_it_does_not_have_is_refused() {
    let mut v = genuine();
    v["cases"][0]["counts_for"] = json!(["reference-bug-compat"]);
    says(
        &refused(&v),
        &["counts for Some([ReferenceBugCompat]), not all among its features"],
    );
}

#[test]
fn a_digest_that_is_not_one_is_refused() {
    let mut v = genuine();
    v["suite"]["fixtures_digest"] = json!("not-a-digest");
    says(
        &refused(&v),
        &["suite.fixtures_digest: \"not-a-digest\" is not a digest (sha256: and 64 lowercase hex digits)"],
    );
    let mut v = genuine();
    v["profile"]["digest"] = json!("A".repeat(64));
    says(&refused(&v), &["profile.digest: ", "is not a digest"]);
}

#[test]
fn a_branch_for_a_version_is_refused() {
    let mut v = genuine();
    v["implementation"]["version"] = json!("main");
    says(
        &refused(&v),
        &["implementation.version: \"main\" is neither a semantic version"],
    );
    let mut v = genuine();
    v["suite"]["version"] = json!("main");
    says(
        &refused(&v),
        &["suite.version: \"main\" is not a semantic version"],
    );
}

#[test]
fn a_name_that_is_markup_is_refused_and_escaped_in_every_output() {
    let mut v = genuine();
    let name = "evil](https://example.com) | **conformant** <img src=x onerror=alert(1)>";
    v["implementation"]["name"] = json!(name);
    says(
        &refused(&v),
        &["implementation.name: ", "is not an implementation name"],
    );
    // Even a report read without verifying cannot inject markup into compare's outputs.
    let report: masq_conformance::verdict::Report = serde_json::from_value(v).unwrap();
    let md = comparison::markdown(std::slice::from_ref(&report));
    let header = md.lines().next().unwrap();
    assert!(!header.contains("](https://"), "{header}");
    assert!(!header.contains("| **conformant**"), "{header}");
    let escaped = |text: &str, c: char| {
        text.match_indices(c)
            .all(|(i, _)| text[..i].ends_with('\\'))
    };
    assert!(escaped(header, '<') && escaped(header, '['), "{header}");
    assert!(
        md.contains("evil\\]\\(https://example.com\\) \\| \\*\\*conformant\\*\\*"),
        "{md}"
    );
    let html = comparison::html(std::slice::from_ref(&report));
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
}

#[test]
fn a_core_feature_never_observed_keeps_the_verdict_from_conformant() {
    // An honest full run of a `listings: none` profile: the healing cases do not apply,
    // so healing is unobserved and the verdict incomplete, never conformant.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.yaml");
    std::fs::write(&path, "name: none-agent\ncommand: [x]\nlistings: none\n").unwrap();
    let profile = Profile::load(&path).unwrap();
    assert_eq!(profile.listings, ListingKind::None);
    let records = whole_run(&profile, |_, _| None);
    assert!(records
        .iter()
        .filter(|r| r.features.contains(&Feature::Healing))
        .all(|r| r.state == CaseState::NotApplicable));
    let report = report_with(&path, &records, Coverage::full());
    let v = serde_json::to_value(&report).unwrap();
    let healing = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "healing")
        .unwrap()
        .clone();
    assert_eq!(healing["state"], "unobserved", "{healing}");
    assert_eq!(report.verdict, RunVerdict::Incomplete);
    // Genuine, so it verifies: as incomplete. Edited to conformant, it does not.
    assert_eq!(
        verify(&v.to_string(), &suite()).unwrap().verdict,
        RunVerdict::Incomplete
    );
    let mut forged = v.clone();
    forged["verdict"] = json!("conformant");
    says(
        &refused(&forged),
        &["verdict says conformant; the cases give incomplete"],
    );
    let mut hidden = v;
    for f in hidden["features"].as_array_mut().unwrap() {
        if f["feature"] == "healing" {
            f["state"] = json!("unsupported");
        }
    }
    says(
        &refused(&hidden),
        &["feature healing says unsupported", "give unobserved"],
    );
}

#[test]
fn the_badge_of_a_partial_run_is_never_green() {
    let profile = Profile::load(&in_tree_profile()).unwrap();
    let records = whole_run(&profile, |_, _| None);
    let partial = report_with(
        &in_tree_profile(),
        &records,
        Coverage::restricted_by(vec!["--skip nft".into()]),
    );
    let badge = comparison::badge(&partial);
    assert!(badge.contains("partial-run"), "{badge}");
    assert!(badge.contains("lightgrey"), "{badge}");
}

/// `verify-report` and `badge` on the command line: a genuine full report verifies
/// against the suite's own corpus (the default) and is refused against another
/// (`--fixtures DIR`), naming the digest it needs.
#[test]
fn the_commands_verify_against_the_corpus_they_run_from() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    std::fs::write(&report, genuine().to_string()).unwrap();
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(
        crate::reports::fixtures_dir().join("default-no-config.yaml"),
        other.join("default-no-config.yaml"),
    )
    .unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, text) = run(&["verify-report".as_ref(), report.as_os_str()]);
    assert!(ok, "{text}");
    assert!(text.contains("is conformant"), "{text}");
    let (ok, text) = run(&["badge".as_ref(), report.as_os_str()]);
    assert!(ok && text.contains("brightgreen"), "{text}");
    for command in ["verify-report", "badge"] {
        let (ok, text) = run(&[
            command.as_ref(),
            "--fixtures".as_ref(),
            other.as_os_str(),
            report.as_os_str(),
        ]);
        assert!(!ok, "{command}: {text}");
        assert!(
            text.contains("a report of another corpus"),
            "{command}: {text}"
        );
        assert!(text.contains(&suite().digest), "{command}: {text}");
        eprintln!("{command} --fixtures OTHER: {text}");
    }
}
