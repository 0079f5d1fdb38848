//! A hostile implementation (`masq-hostile-agent`) tries every escape docs/threat-model.md
//! names. Each attack must fail inside the sandbox, the host must be unchanged
//! afterwards (checked here, not taken from the attacker's word), a hostile wrong
//! implementation must never pass, and a run of the in-tree agent beside it must be
//! unaffected.

use std::path::Path;
use std::process::Command;

use crate::common::{agent, profile_with, run_suite, workspace, Group};

/// This module's tests and what they need.
pub fn group() -> Group {
    Group {
        name: "hostile",
        what: "the runner self-tests",
        pure: vec![],
        root: vec![
            (
                "hostile_attacks_fail_and_leave_the_host_and_a_concurrent_run_alone",
                hostile_attacks_fail_and_leave_the_host_and_a_concurrent_run_alone,
            ),
            (
                "a_hostile_wrong_implementation_never_passes",
                a_hostile_wrong_implementation_never_passes,
            ),
        ],
        missing: None,
        // It watches the host's state, which another test's run would also touch.
        alone: true,
    }
}

fn hostile() -> String {
    env!("CARGO_BIN_EXE_masq-hostile-agent").to_string()
}

/// What the host looks like, as far as the attacks could change it.
#[derive(Debug, PartialEq, Eq)]
struct HostState {
    hostname: String,
    fixtures_digest: String,
    planted: Vec<String>,
    hostile_namespaces: Vec<String>,
}

fn host_state(marker: &str) -> HostState {
    let name = format!("masq-hostile-{marker}");
    let planted = [
        Path::new("/tmp").join(&name),
        Path::new("/etc").join(&name),
        workspace().join(&name),
        Path::new("/tmp/masq-hostile-sda").to_path_buf(),
    ]
    .into_iter()
    .filter(|p| std::fs::symlink_metadata(p).is_ok())
    .map(|p| p.display().to_string())
    .collect();
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    HostState {
        hostname: nix::unistd::gethostname()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        fixtures_digest: masq_conformance::document::corpus::Corpus::read(
            &workspace().join("fixtures"),
        )
        .map(|c| c.digest().to_string())
        .unwrap_or_else(|e| format!("unreadable: {e}")),
        planted,
        hostile_namespaces: String::from_utf8_lossy(&list.stdout)
            .lines()
            .filter(|l| l.contains("masq-hostile"))
            .map(str::to_string)
            .collect(),
    }
}

fn hostile_attacks_fail_and_leave_the_host_and_a_concurrent_run_alone() {
    let marker = std::process::id().to_string();
    let before = host_state(&marker);
    let in_tree = workspace().join("conformance/implementations/ip-masq-agent-rs.yaml");
    // The in-tree agent, on the same cases, at the same time.
    let cases = ["default", "fault"];
    let beside = std::thread::spawn(move || run_suite(&in_tree, &cases));
    let profile = profile_with(
        "hostile-then-honest",
        &[hostile(), marker.clone(), agent().display().to_string()],
        "",
    );
    let (ok, out) = run_suite(&profile, &cases);
    let (beside_ok, beside_out) = beside.join().unwrap();
    let after = host_state(&marker);
    std::fs::remove_file(profile).unwrap();
    // Every attack was stopped (one that worked makes it exit 99: its case fails, with
    // the attack named in its output), and then it behaved: its cases pass.
    assert!(
        ok,
        "an attack escaped, or the attacks broke the case:\n{out}"
    );
    assert!(
        out.contains(" passed, 0 failed") && !out.contains(" 0 passed"),
        "{out}"
    );
    assert!(
        beside_ok && beside_out.contains(" passed, 0 failed") && !beside_out.contains(" 0 passed"),
        "the concurrent run of the in-tree agent was affected:\n{beside_out}"
    );
    assert_eq!(before, after, "the host changed");
    assert!(before.planted.is_empty() && before.hostile_namespaces.is_empty());
}

fn a_hostile_wrong_implementation_never_passes() {
    let marker = format!("{}-wrong", std::process::id());
    let before = host_state(&marker);
    let profile = profile_with(
        "hostile-wrong",
        &[hostile(), marker.clone(), "masquerade-everything".into()],
        "",
    );
    let (ok, out) = run_suite(&profile, &["--exact", "default-no-config::legacy"]);
    let after = host_state(&marker);
    std::fs::remove_file(profile).unwrap();
    assert!(
        !ok,
        "a hostile implementation that masquerades everything passed:\n{out}"
    );
    // It failed for what it does to packets, not because an attack worked.
    assert!(out.contains(" attacks, 0 escaped"), "{out}");
    assert!(out.contains("0 passed, 1 failed"), "{out}");
    assert!(
        out.contains("waiting for chain IP-MASQ-AGENT"),
        "not failed for its rules:\n{out}"
    );
    assert_eq!(before, after, "the host changed");
}
