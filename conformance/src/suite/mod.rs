//! The harness: fixtures × backends as libtest-mimic trials, in three steps: [`plan`]
//! (profile, fixtures, prerequisites), [`execute`] (the trials, each writing to a
//! [`Recorder`]) and [`publish`] (report, JUnit, timings, summary).

use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Trial};

use crate::records::{self, Recorder};
use crate::vocabulary::IptablesBackend;

mod args;
mod coverage;
mod expectations;
mod plan;
mod publish;
mod repeats;
mod trial;

pub use args::{in_tree, own_corpus_dir, SuiteOptions, DEFAULT_PROFILE};
use plan::Plan;
use trial::{run_trial, TrialSpec};

/// How many cases run at once unless `--test-threads` (or `RUST_TEST_THREADS`) says
/// otherwise. Chosen from what a case does, not from the core count: a case spends about
/// 92% of its wall time waiting (for the implementation to read and act, for probes to
/// arrive) and costs about 40 ms of CPU, so even a 2-core machine keeps 16 cases in
/// flight busy without starving any of them (docs/performance.md has the measurements).
pub const DEFAULT_CASES_IN_FLIGHT: usize = 16;

/// Why the suite cannot run here, if it cannot.
pub fn unavailable(backends: &[IptablesBackend]) -> Option<String> {
    unavailable_for(backends, false, false)
}

/// [`unavailable`] for a profile that may need `nft`, in a run that may leave iptables
/// out (then the backends' binaries are not needed).
pub fn unavailable_for(
    backends: &[IptablesBackend],
    nft: bool,
    without_iptables: bool,
) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not running as root (network namespaces and iptables need it)".into());
    }
    if nft && crate::nftables::binary().is_none() {
        return Some("nft is not installed (the nftables package; run scripts/setup.sh)".into());
    }
    if without_iptables {
        return None;
    }
    for b in backends {
        if b.binary().is_none() {
            return Some(format!(
                "iptables backend {} is not installed (run scripts/setup.sh)",
                b.name()
            ));
        }
    }
    None
}

/// Builds the trials and runs them: [`plan::plan`], [`execute`], [`publish::publish`].
/// `skip_if_unavailable` turns a missing prerequisite into ignored trials with a visible
/// "SKIPPED" line, except under `CI=true`, where it fails the run.
pub fn run(opts: SuiteOptions, mut args: Arguments) -> ExitCode {
    let plan = match plan::plan(&opts, &mut args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (records, conclusion) = execute(&opts, &plan, &args);
    crate::interrupt::wait_if_stopping();
    publish::publish(&opts, &plan, &records, &conclusion, args.list);
    crate::names::remove_run_scratch();
    conclusion.exit_code()
}

/// Runs the planned trials under libtest-mimic, each writing its record to a
/// [`Recorder`] of this run; returns the records and libtest's conclusion.
fn execute(
    opts: &SuiteOptions,
    plan: &Plan,
    args: &Arguments,
) -> (Vec<records::Record>, libtest_mimic::Conclusion) {
    let recorder = Recorder::default();
    let mut specs: Vec<Arc<TrialSpec>> = Vec::new();
    for (name, fixture) in &plan.fixtures {
        for &backend in &opts.backends {
            specs.push(Arc::new(TrialSpec {
                name: name.clone(),
                fixture: fixture.clone(),
                profile: plan.profile.clone(),
                backend,
                corpus: plan.corpus.clone(),
                snapshot_dir: plan.snapshot_dir.clone(),
                mode: plan.mode.clone(),
                without_iptables: opts.without_iptables,
                recorder: recorder.clone(),
                repeats: plan.repeats,
            }));
        }
    }
    if !args.list {
        // The longest cases first, so that the run does not end waiting on one of them.
        specs.sort_by(|a, b| {
            b.fixture
                .estimated_duration()
                .cmp(&a.fixture.estimated_duration())
        });
    }
    // Filters are ours (libtest takes one); what they leave out is passed on as exact
    // skips, so that libtest still counts it as filtered out.
    let mut skipped = Vec::new();
    let blocked = plan.blocker.is_some();
    let trials: Vec<Trial> = specs
        .into_iter()
        .map(|spec| {
            let trial_name = format!("{}::{}", spec.name, spec.backend.name());
            if !opts.selects(&trial_name) {
                skipped.push(trial_name.clone());
            }
            let kind = spec.backend.name();
            Trial::ignorable_test(trial_name, move || run_trial(spec))
                .with_kind(kind)
                .with_ignored_flag(blocked)
        })
        .collect();
    let mut args = args.clone();
    args.filter = None;
    args.skip = skipped;
    args.exact = true;
    println!(
        "masq-conformance: {} fixtures x {} backend(s) against {} ({})",
        plan.fixtures.len(),
        opts.backends.len(),
        plan.profile.name,
        opts.profile_path.display()
    );
    println!("masq-conformance: {}", plan.suite_name);
    let conclusion = libtest_mimic::run(&args, trials);
    (recorder.records(), conclusion)
}

#[cfg(test)]
mod tests;
