//! Issue 21, items 1 and 2, in the formats that need no root: a profile's `unstable`,
//! `repeats` and pinned `expected_failures` are checked at load (errors name the file and
//! the key), `--repeat` is bounded, and a report's unstable cases count as their own
//! state: never passed, failing the run only when the profile does not list them.

use masq_conformance::profile::Profile;
use masq_conformance::verdict::{verify::verify, RunVerdict};
use masq_conformance::vocabulary::{CaseState, Instability, Level};

use crate::reports::{in_tree_profile, of_records, suite, whole_run};

fn run_list(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unstable_and_pinned_entries_are_checked_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    for (body, wanted) in [
        (
            "unstable: [{case: no-such-case, reason: r}]",
            "names no case of",
        ),
        (
            "unstable: [{case: default-no-config, reason: \"\"}]",
            "unstable: default-no-config: reason must say",
        ),
        ("repeats: 11", "repeats: 11 is not between 1 and 10"),
        (
            "expected_failures: [{case: default-no-config, reason: r, step: 0}]",
            "expected_failures: default-no-config: step: 0 is not a step",
        ),
    ] {
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, format!("name: x\ncommand: [\"true\"]\n{body}\n")).unwrap();
        let (ok, err) = run_list(&["--implementation", path.to_str().unwrap(), "--list"]);
        assert!(!ok, "{body}: {err}");
        assert!(
            err.contains(path.to_str().unwrap()) && err.contains(wanted),
            "{body}: {err}"
        );
    }
    // A well-formed pinned entry and an unstable one load.
    let path = dir.path().join("ok.yaml");
    std::fs::write(
        &path,
        "name: x\ncommand: [\"true\"]\nrepeats: 3\nunstable: [{case: default-no-config::nft, reason: r, link: \"https://e/1\"}]\nexpected_failures:\n  - {case: default-no-config, reason: r, step: 4, cells: [{destination: rfc1918-10, protocol: udp, direction: pod}], message: expected}\n",
    )
    .unwrap();
    let (ok, err) = run_list(&["--implementation", path.to_str().unwrap(), "--list"]);
    assert!(ok, "{err}");
    for bad in ["0", "11", "many"] {
        let (ok, err) = run_list(&["--repeat", bad, "--list"]);
        assert!(!ok && err.contains("--repeat"), "--repeat {bad}: {err}");
    }
}

#[test]
fn an_unstable_case_is_never_passed_and_fails_the_run_only_unlisted() {
    let profile = Profile::load(&in_tree_profile()).unwrap();
    let (name, fixture) = crate::reports::fixtures().into_iter().next().unwrap();
    let core = fixture.features.iter().any(|f| f.level() == Level::Core);
    for listed in [true, false] {
        let mut records = whole_run(&profile, |n, _| (n == name).then_some(CaseState::Unstable));
        for r in records.iter_mut().filter(|r| r.fixture == name) {
            r.unstable = Some(Instability {
                listed,
                repeats: vec!["passed".into(), "failed: step 4 (snapshot): x".into()],
                differing_cells: vec![
                    "step 4: rfc1918-10/udp: not-masqueraded | masqueraded".into()
                ],
            });
            r.reason = listed.then(|| "coin flip".into());
        }
        let v = of_records(&records);
        let report = verify(&v.to_string(), &suite()).unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(report.summary.unstable, 2);
        assert_eq!(
            report.summary.passed + 2 + report.summary.not_applicable + report.summary.unsupported,
            report.cases.len()
        );
        let expected = match (listed, core) {
            (false, _) => RunVerdict::NonConformant,
            (true, true) => RunVerdict::PartiallyConformant,
            (true, false) => RunVerdict::Conformant,
        };
        assert_eq!(report.verdict, expected, "listed: {listed}");
        let feature = fixture.features[0];
        let f = report
            .features
            .iter()
            .find(|f| f.feature == feature)
            .unwrap();
        assert_ne!(f.state, masq_conformance::verdict::FeatureState::Passed);
        // Details belong to unstable cases only.
        let mut v = v.clone();
        let i = report.cases.iter().position(|c| c.fixture == name).unwrap();
        v["cases"][i]["unstable"] = serde_json::Value::Null;
        let problems = verify(&v.to_string(), &suite()).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("`unstable` details")),
            "{problems:?}"
        );
    }
}
