//! The runner's self-tests, in one harness: the suite must never pass an implementation
//! that did not exercise the behaviour, never leave anything behind, never write into
//! its own checkout while judging (see ARCHITECTURE.md, "Invariants").
//!
//! Each module is a group of tests with its own prerequisites: without root, iptables,
//! the agent (or nft, for the nftables group) its tests are reported as ignored with the
//! reason; under `CI=true` that fails the run. Tests that watch machine-wide state run
//! alone (see [`common::Group::alone`]).

mod common;
mod config_sources;
mod directions;
mod features_attributed;
mod generate_finds_bugs;
mod honest_verdicts;
mod hostile;
mod limits;
mod nftables_verdicts;
mod observed_time;
mod ports_observed;
mod runner_safety;
mod unstable_cases;
mod waivers_honoured;
mod wrong_implementations;

use std::process::ExitCode;

fn main() -> ExitCode {
    common::run_groups(vec![
        runner_safety::group(),
        wrong_implementations::group(),
        unstable_cases::group(),
        limits::group(),
        honest_verdicts::group(),
        hostile::group(),
        nftables_verdicts::group(),
        directions::group(),
        ports_observed::group(),
        generate_finds_bugs::group(),
        observed_time::group(),
        waivers_honoured::group(),
        features_attributed::group(),
        config_sources::group(),
    ])
}
