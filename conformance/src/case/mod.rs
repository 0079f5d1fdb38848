//! Running one case: a fixture's steps against one implementation on one backend.
//!
//! The rooms: [`outcome`] (the outcome table and its targets), [`node`] (the sandbox's
//! node side: config volume, shims, nat table), [`lifecycle`] (starting, liveness,
//! terminating), [`waiting`] (the `wait` steps), [`traffic`] (probes, flows,
//! conntrack), [`faults`] (faults, tampering, preloaded rules), [`error`] (what a failed
//! case says). The snapshot document's sections are written and read by
//! [`crate::document`]. This file only orders the steps.

use std::time::{Duration, Instant};

use crate::document::{Document, Section};
use crate::fixture::{Fixture, SnapshotPart, Step};
use crate::implementation::Profile;
use crate::probe::Receivers;
use crate::profile::ListingKind;
use crate::snapshot::normalize_save;
use crate::topology::Sandbox;
use crate::vocabulary::{IptablesBackend, OutcomeTable};

pub mod counters;
pub mod error;
pub mod faults;
pub mod lifecycle;
pub mod node;
pub mod observed;
pub mod reload;
pub mod source;
pub mod switch;
pub mod traffic;
pub mod waiting;

pub use error::{CaseError, SetupError, StepError};
pub use faults::split_rule;

/// Where the time of a case went (for benchmarks and slow-case reports).
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub phases: Vec<(&'static str, Duration)>,
}

impl Timings {
    pub fn add(&mut self, phase: &'static str, d: Duration) {
        if let Some(entry) = self.phases.iter_mut().find(|(p, _)| *p == phase) {
            entry.1 += d;
        } else {
            self.phases.push((phase, d));
        }
    }
}

/// What a finished case produced.
#[derive(Debug, Clone, Default)]
pub struct CaseOutput {
    /// The snapshot document.
    pub document: Document,
    /// Every probe step's table, in order.
    pub tables: Vec<OutcomeTable>,
    /// The implementation's output.
    pub log: String,
    /// Each publication's time to a new flow with the new outcome (`reload-latency`).
    pub reload_latencies: Vec<Duration>,
    pub timings: Timings,
    /// The implementation's read period and delay from read to action, as measured.
    pub measurements: observed::Measurements,
}

/// A case's end: what it produced, and why it stopped early if it did.
#[derive(Debug)]
pub struct CaseRun {
    pub output: CaseOutput,
    pub error: Option<CaseError>,
}

/// Everything one case needs.
pub struct CaseSpec<'a> {
    pub name: &'a str,
    pub fixture: &'a Fixture,
    pub profile: &'a Profile,
    pub backend: IptablesBackend,
    /// The reviewed snapshot's document, when there is one: what an implementation
    /// without iptables rules is waited for (`readiness: outcomes`).
    pub expected: Option<&'a Document>,
    /// `--without-iptables`: iptables is not on the implementation's PATH, and the
    /// runner never runs it.
    pub without_iptables: bool,
}

/// One case in progress.
struct CaseExecution<'a> {
    spec: &'a CaseSpec<'a>,
    node: node::Node,
    traffic: traffic::Traffic,
    implementation: lifecycle::Lifecycle,
    waits: waiting::WaitState,
    faults: faults::Faults,
    /// With `config_source: adapter`: what the implementation was last started with.
    adapter: source::AdapterState,
    out: CaseOutput,
    /// The step being run, counted from 1.
    step_no: usize,
}

/// Runs a case; the sandbox is gone when this returns, whatever happened.
pub fn run_case(spec: &CaseSpec<'_>) -> CaseRun {
    let fail = |error: CaseError| CaseRun {
        output: CaseOutput::default(),
        error: Some(error),
    };
    let mut timings = Timings::default();
    let started = Instant::now();
    let sandbox = match Sandbox::create_limited(
        &crate::fixture::targets::world_addresses(spec.fixture),
        spec.profile.limits(),
    ) {
        Ok(s) => s,
        Err(e) => return fail(e.into()),
    };
    timings.add("sandbox", started.elapsed());
    let mut execution = match CaseExecution::new(spec, sandbox, timings) {
        Ok(r) => r,
        Err(e) => return fail(CaseError::Setup(e)),
    };
    let result = execution.run_steps();
    execution.measure_read_periods();
    let teardown = Instant::now();
    if let Some(mut r) = execution.implementation.running.take() {
        execution.out.log = r.log();
        r.stop();
    }
    // Read once everything it started is gone: the counters and the log are final.
    let limits = &execution.node.sandbox.limits;
    let hit = limits.hit().map(|hit| (hit, limits.seen(hit)));
    let error = CaseError::with_limit(hit, result.err());
    let mut output = std::mem::take(&mut execution.out);
    drop(execution); // receivers, flows, namespaces, scratch, cgroups
    output.timings.add("teardown", teardown.elapsed());
    CaseRun { output, error }
}

impl<'a> CaseExecution<'a> {
    fn new(spec: &'a CaseSpec<'a>, sandbox: Sandbox, timings: Timings) -> Result<Self, SetupError> {
        let receivers = Receivers::start(&[
            sandbox.world.file(),
            sandbox.node.file(),
            sandbox.pod.file(),
        ])
        .map_err(SetupError::Receivers)?;
        let node = node::Node::prepare(
            sandbox,
            spec.profile,
            spec.backend,
            spec.fixture.ipv6(),
            spec.without_iptables,
        )?;
        Ok(Self {
            spec,
            node,
            traffic: traffic::Traffic::new(receivers),
            implementation: lifecycle::Lifecycle::default(),
            waits: waiting::WaitState {
                resync: spec.fixture.resync_interval.as_ref().map(|d| d.get()),
                ..Default::default()
            },
            faults: faults::Faults::default(),
            adapter: source::AdapterState::default(),
            out: CaseOutput {
                timings,
                ..Default::default()
            },
            step_no: 0,
        })
    }

    fn run_steps(&mut self) -> Result<(), CaseError> {
        let steps = &self.spec.fixture.steps;
        let explicit_start = steps
            .iter()
            .any(|s| matches!(s, Step::Start(_) | Step::StartAndProbe(_)));
        for (i, step) in steps.iter().enumerate() {
            self.step_no = i + 1;
            let failed = |error: StepError| CaseError::Step {
                number: i + 1,
                name: step.name(),
                error,
            };
            let implicit_start = !explicit_start
                && self.implementation.running.is_none()
                && !matches!(
                    step,
                    Step::Config(_) | Step::Preload(_) | Step::PreloadNftables(_)
                );
            if implicit_start {
                self.start().map_err(failed)?;
            }
            let began = Instant::now();
            self.step(step).map_err(failed)?;
            if std::env::var_os("MASQ_CONFORMANCE_TRACE").is_some() {
                eprintln!(
                    "trace: {}: step {} ({}) took {:?}",
                    self.spec.name,
                    self.step_no,
                    step.name(),
                    began.elapsed()
                );
            }
            // A limit hit ends the case at once: what follows would only time out.
            let limits = &self.node.sandbox.limits;
            if let Some(hit) = limits.hit() {
                let seen = limits.seen(hit);
                return Err(CaseError::Limit {
                    hit,
                    seen,
                    then: None,
                });
            }
            self.implementation
                .check_not_exited_unexpectedly()
                .map_err(failed)?;
        }
        // Counted against the step that published the bad config.
        let at = self.waits.published_at;
        self.end_on_bad_config().map_err(|error| CaseError::Step {
            number: at,
            name: steps.get(at.wrapping_sub(1)).map_or("config", Step::name),
            error,
        })
    }

    fn step(&mut self, step: &Step) -> Result<(), StepError> {
        match step {
            Step::Config(source) => {
                let adapter = self.spec.profile.adapter();
                // Through an adapter that does not render it, the config's resyncInterval
                // never reaches the implementation: no hint.
                let hinted = adapter.is_none_or(|a| {
                    a.rendered_keys()
                        .contains(&crate::profile::ConfigKey::ResyncInterval)
                });
                if let Some(d) = source.resync_interval.filter(|_| hinted) {
                    self.waits.resync = Some(d);
                }
                if adapter.is_none() {
                    self.observe_period_before(source);
                }
                self.waits.previous_observable = self.published_observably();
                self.waits.baseline = Some(self.node.current_rules().unwrap_or_default());
                match adapter {
                    Some(_) => self.publish_through_adapter(source)?,
                    None => self.node.publish_source(source)?,
                }
                self.waits.published_at = self.step_no;
                self.waits.current = Some(source.clone());
                self.mark_reads();
                self.adapter.marked_at = None; // the restart delivers it
                Ok(())
            }
            Step::Start(_) => self.start(),
            Step::Wait(w) => {
                let t = Instant::now();
                let r = self.wait(w);
                self.out.timings.add("waits", t.elapsed());
                r
            }
            Step::Probe(sel) => self.probe_step(sel),
            Step::Tamper(t) => {
                self.waits.baseline = None;
                // Marked after the damage is done: a round that read the config while
                // the tamper was still under way may have checked the rules before it, so
                // only reads after it count towards a healing round.
                let done = self.tamper(*t);
                self.mark_reads();
                done
            }
            Step::Preload(lines) => {
                self.preload(lines)?;
                self.waits.baseline = Some(self.node.current_rules().unwrap_or_default());
                self.mark_reads();
                Ok(())
            }
            Step::PreloadNftables(script) => {
                self.preload_nftables(script)?;
                self.waits.baseline = Some(self.node.current_rules().unwrap_or_default());
                self.mark_reads();
                Ok(())
            }
            Step::StartAndProbe(w) => self.start_and_probe(w.duration.get()),
            Step::ConntrackFlush(_) => self.conntrack_flush(),
            Step::FlowOpen(f) => self.flow_open(f),
            Step::FlowProbe(f) => self.flow_probe(f),
            Step::Terminate(_) => self.terminate(),
            Step::ReloadLatency(r) => {
                self.waits.baseline = Some(self.node.current_rules().unwrap_or_default());
                self.reload_latency(r)?;
                if r.swaps % 2 == 1 {
                    self.waits.current = Some(r.to.clone());
                }
                self.waits.published_at = self.step_no;
                self.mark_reads();
                Ok(())
            }
            Step::Fault(f) => {
                self.mark_reads();
                let generation = self.node.volume.generation();
                self.fault(f)?;
                if self.node.volume.generation() != generation {
                    // A flap publishes configs of its own, ending on its good one.
                    if let crate::fixture::Fault::Flap(flap) = f {
                        self.waits.current = Some(flap.good.clone());
                    }
                    self.waits.published_at = self.step_no;
                    self.mark_reads();
                }
                Ok(())
            }
            Step::Snapshot(sel) => {
                let t = Instant::now();
                for part in sel.parts() {
                    self.snapshot_part(part)?;
                }
                self.out.timings.add("snapshot", t.elapsed());
                Ok(())
            }
        }
    }

    /// Appends one section to the document (see [`crate::document`]).
    fn snapshot_part(&mut self, part: SnapshotPart) -> Result<(), StepError> {
        let n = self.step_no;
        let chain = self.chain();
        let kind = self.spec.profile.listings;
        match part {
            // Rules of another kind: its own listing stands in for the iptables ones.
            SnapshotPart::Rules | SnapshotPart::Listing if kind == ListingKind::Nftables => {
                let listing = self.node.nft_listing()?;
                let counters = part == SnapshotPart::Listing;
                let text = match counters {
                    true => listing,
                    false => crate::nftables::without_counters(&listing),
                };
                self.out.document.push(Section::nft(n, counters, &text));
            }
            SnapshotPart::Rules | SnapshotPart::Listing if kind == ListingKind::None => {}
            SnapshotPart::Outcome => {
                let table = self.out.tables.last().ok_or_else(|| {
                    StepError::Misuse("snapshot: outcome needs an earlier probe step".into())
                })?;
                self.out.document.push(Section::outcome(n, table));
            }
            SnapshotPart::Rules => {
                for &family in self.node.families {
                    let save = self.node.tables().save_nat(family)?;
                    let save = self.as_snapshot_chain(&normalize_save(&save));
                    let section = Section::rules(n, family, &save);
                    self.out.document.push(section);
                }
            }
            SnapshotPart::Listing => {
                for section in self.listings(&chain)? {
                    let section = self.as_snapshot_section(section);
                    self.out.document.push(section);
                }
            }
            SnapshotPart::Iptables | SnapshotPart::All => unreachable!("expanded by parts()"),
        }
        Ok(())
    }
}
