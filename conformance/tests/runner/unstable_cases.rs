//! Issue 21, items 1 and 2, against real cases: a nondeterministic implementation
//! (`masq-wrong-agent coin-flip`) is judged unstable for the right reason (the cells that
//! differ between repeats, with each repeat's outcome), fails the run unlisted, and is
//! the `unstable` state once `--write-expectations` has listed it; a known failure pinned
//! to cells covers only those, and a failure outside them is a new failure.

use crate::common::{run_suite, write_profile, Group};

/// This module's tests and what they need.
pub fn group() -> Group {
    Group {
        name: "unstable_cases",
        what: "the runner self-tests",
        pure: vec![],
        root: vec![
            (
                "a_nondeterministic_implementation_is_unstable_naming_the_differing_cells",
                a_nondeterministic_implementation_is_unstable_naming_the_differing_cells,
            ),
            (
                "a_pinned_known_failure_covers_only_what_it_names",
                a_pinned_known_failure_covers_only_what_it_names,
            ),
        ],
        missing: None,
        alone: false,
    }
}

fn wrong_agent() -> &'static str {
    env!("CARGO_BIN_EXE_masq-wrong-agent")
}

fn report_case(path: &std::path::Path) -> (serde_json::Value, serde_json::Value) {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let case = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["fixture"] == "default-no-config" && c["backend"] == "legacy")
        .cloned()
        .unwrap();
    (report, case)
}

/// Ten repeats of a coin flip agree by chance once in 512 runs: then this test fails,
/// saying so, rather than passing without having seen the disagreement.
fn a_nondeterministic_implementation_is_unstable_naming_the_differing_cells() {
    let profile = write_profile(
        "coin-flip",
        &format!(
            "name: coin-flip\ncommand: [{:?}, coin-flip, \"${{IP_MASQ_AGENT_BIN}}\"]\n",
            wrong_agent()
        ),
    );
    let report = profile.with_extension("report.json");
    let (ok, out) = run_suite(
        &profile,
        &[
            "--repeat",
            "10",
            "--report",
            report.to_str().unwrap(),
            "--write-expectations",
            profile.to_str().unwrap(),
            "default-no-config",
        ],
    );
    assert!(!ok, "an unlisted unstable case must fail the run:\n{out}");
    assert!(
        out.contains("unstable: its 10 repeats disagree"),
        "(the 10 coin flips may all have agreed: 1 run in 512)\n{out}"
    );
    assert!(
        out.contains("NOT LISTED in the profile's unstable"),
        "{out}"
    );
    assert!(!out.contains("remove it from the list"), "{out}");
    // Grouped by cause as failures are: what its failing repeats said.
    assert!(
        out.contains("\nunstable, by root cause:\n  sometimes: snapshot: expected "),
        "{out}"
    );
    let (r, case) = report_case(&report);
    let causes = r["causes"].as_array().unwrap();
    assert!(
        causes.iter().any(|c| c["state"] == "unstable"
            && c["cause"]
                .as_str()
                .unwrap()
                .starts_with("sometimes: snapshot: expected ")),
        "{r}"
    );
    assert_eq!(case["state"], "unstable", "{case}");
    assert_eq!(case["unstable"]["listed"], false, "{case}");
    assert_eq!(case["unstable"]["repeats"].as_array().unwrap().len(), 10);
    let cells: Vec<&str> = case["unstable"]["differing_cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    // Only the coin's destination differs, and each repeat's outcome is named.
    assert_eq!(cells.len(), 3, "{cells:?}");
    for (cell, proto) in cells.iter().zip(["udp", "tcp", "icmp"]) {
        assert!(
            cell.starts_with(&format!("step 4: rfc1918-10/{proto}: ")),
            "{cell}"
        );
        let outcomes: Vec<&str> = cell.rsplit(": ").next().unwrap().split(" | ").collect();
        assert_eq!(outcomes.len(), 10, "{cell}");
        assert!(outcomes.contains(&"masqueraded") && outcomes.contains(&"not-masqueraded"));
    }
    // --write-expectations listed it in unstable; with a reason, the run is green and
    // the case is unstable, never passed.
    let written = std::fs::read_to_string(&profile).unwrap();
    assert!(
        written.contains("unstable:\n  - case: default-no-config::legacy\n    reason: \"TODO\"\n"),
        "{written}"
    );
    std::fs::write(
        &profile,
        written.replace(
            "\"TODO\"",
            "\"a coin at each start masquerades 10.96.0.10\"",
        ),
    )
    .unwrap();
    let (ok, out) = run_suite(
        &profile,
        &[
            "--repeat",
            "2",
            "--report",
            report.to_str().unwrap(),
            "default-no-config",
        ],
    );
    assert!(ok, "a listed unstable case must not fail the run:\n{out}");
    assert!(
        out.contains("default-no-config::legacy: listed: a coin at each start"),
        "{out}"
    );
    assert!(
        out.contains("\nunstable, by root cause:\n  a coin at each start masquerades 10.96.0.10 (1 case): default-no-config (legacy)\n"),
        "{out}"
    );
    let (r, case) = report_case(&report);
    assert_eq!(case["state"], "unstable", "{case}");
    assert_eq!(case["unstable"]["listed"], true, "{case}");
    assert_eq!(r["summary"]["passed"], 0, "{r}");
    assert_eq!(r["summary"]["unstable"], 1, "{r}");
    std::fs::remove_file(profile).unwrap();
    std::fs::remove_file(report).unwrap();
}

fn a_pinned_known_failure_covers_only_what_it_names() {
    // masquerade-everything fails default-no-config in the IPv4 cells that keep the
    // pod's source, and in its rule listings.
    let profile = |name: &str, entries: &str| {
        write_profile(
            name,
            &format!(
                "name: masquerade-everything\ncommand: [{:?}, masquerade-everything]\nexpected_failures:\n{entries}",
                wrong_agent()
            ),
        )
    };
    let one_cell = profile(
        "pinned-one",
        "  - {case: default-no-config, reason: r, step: 4, cells: [{destination: rfc1918-10, protocol: udp}]}\n",
    );
    let (ok, out) = run_suite(&one_cell, &["default-no-config"]);
    assert!(!ok, "a failure outside the entry must fail the run:\n{out}");
    assert!(
        out.contains(
            "a new failure: rfc1918-10/tcp expected not-masqueraded, got masqueraded (and "
        ),
        "{out}"
    );
    assert!(
        out.contains("cover only step 4, cells rfc1918-10/udp of this case"),
        "{out}"
    );
    let all = profile(
        "pinned-all",
        "  - case: default-no-config\n    reason: every destination is masqueraded\n    step: 4\n    cells: [{destination: rfc1918-10}, {destination: rfc1918-172}, {destination: 192.168.0.10}, {destination: link-local, direction: pod}, {destination: node}]\n  - {case: default-no-config::legacy, reason: its own rules, message: after step 4 differs}\n",
    );
    let (ok, out) = run_suite(&all, &["default-no-config"]);
    assert!(ok, "every part of the failure is covered:\n{out}");
    assert!(
        out.contains("known failure: every destination is masqueraded; its own rules"),
        "{out}"
    );
    let wrong_step = profile(
        "pinned-step",
        "  - {case: default-no-config, reason: r, step: 3}\n",
    );
    let (ok, out) = run_suite(&wrong_step, &["default-no-config"]);
    assert!(!ok, "{out}");
    assert!(out.contains("cover only step 3 of this case"), "{out}");
    for p in [one_cell, all, wrong_step] {
        std::fs::remove_file(p).unwrap();
    }
}
