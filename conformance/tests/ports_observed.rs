//! Ports are observed where they matter: an implementation that ignores `--to-ports` and
//! `--random-fully` (`masq-wrong-agent without-flag to-ports`, the in-tree agent without
//! them) fails the `--to-ports` fixtures, with the cell saying which port was wrong or
//! that flows from one source port were not spread; the in-tree agent passes them.
//!
//! A libtest-mimic harness: without root, iptables or the agent the tests are reported as
//! ignored with the reason; under `CI=true` that fails the run.

mod common;

use std::process::ExitCode;

use common::{agent, profile_with, run_suite};
use libtest_mimic::{Arguments, Trial};
use masq_conformance::prereq::{self, Verdict};

fn an_agent_ignoring_to_ports_fails_with_the_port_named() {
    let argv: Vec<String> = [
        env!("CARGO_BIN_EXE_masq-wrong-agent").to_string(),
        "without-flag".into(),
        "to-ports".into(),
        agent().display().to_string(),
        "--v=2".into(),
    ]
    .into();
    let profile = profile_with("without-to-ports", &argv, "rule_listings: waived\n");
    let (ok, out) = run_suite(&profile, &["--exact", "flag-to-ports-one-range::legacy"]);
    assert!(
        !ok,
        "the suite passed an agent that ignores --to-ports:\n{out}"
    );
    assert!(
        out.contains("masqueraded!port-") && out.contains("-not-in-to-ports"),
        "the failure does not name the port:\n{out}"
    );
    std::fs::remove_file(profile).unwrap();
    let in_tree = profile_with("in-tree", &[agent().display().to_string()], "");
    let (ok, out) = run_suite(&in_tree, &["flag-to-ports"]);
    assert!(
        ok,
        "the in-tree agent fails the --to-ports fixtures:\n{out}"
    );
    std::fs::remove_file(in_tree).unwrap();
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let ignore = match prereq::verdict(common::missing_prerequisite()) {
        Verdict::Run => false,
        Verdict::Ignore(why) => {
            eprintln!("ignored: the port self-tests need root: {why}");
            true
        }
        Verdict::Fail(why) if !args.list => {
            eprintln!("error: the port self-tests cannot run: {why}");
            return ExitCode::FAILURE;
        }
        Verdict::Fail(_) => true,
    };
    let trials = vec![Trial::test(
        "an_agent_ignoring_to_ports_fails_with_the_port_named",
        || {
            an_agent_ignoring_to_ports_fails_with_the_port_named();
            Ok(())
        },
    )
    .with_ignored_flag(ignore)];
    libtest_mimic::run(&args, trials).exit_code()
}
