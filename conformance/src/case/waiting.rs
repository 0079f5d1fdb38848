//! Waiting: the `wait` steps, each bounded and each saying what it waited for.

use std::time::{Duration, Instant};

use super::error::StepError;
use super::observed;
use super::CaseExecution;
use crate::document::render_table;
use crate::fixture::{ProbeSelection, SnapshotPart, Step, Wait};
use crate::poll::{self, MAX_WAIT};
use crate::profile::ListingKind;
use crate::vocabulary::standard_targets;
use crate::vocabulary::Proto;

/// How long a readiness wait may take before the case fails.
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// What the waits remember between steps.
#[derive(Debug, Default)]
pub struct WaitState {
    /// The nat table as it was just before the last config or fault step changed
    /// anything; `wait: rules-changed` waits for a difference from it. `None` after a
    /// tamper: the implementation may heal before the runner can look, so there the
    /// race-free wait is `rules`.
    pub baseline: Option<String>,
    /// The resync interval in force: the fixture's, then the last config's.
    pub resync: Option<Duration>,
    /// The step that published the current config (0: none yet).
    pub published_at: usize,
    /// The config in force, as published by the last config step.
    pub current: Option<crate::fixture::ConfigSource>,
    /// The version published and the reads of it already made at the last mark (a
    /// config, tamper, fault or preload step): `wait: {reads: N}` counts from there.
    pub mark: (u32, u32),
    /// Whether the config before the current one could be seen being read.
    pub previous_observable: bool,
}

/// The resync period assumed when neither the profile nor the config gives one: the
/// reference's default `resyncInterval`.
const DEFAULT_PERIOD: Duration = Duration::from_secs(60);

/// The slack a bounded wait allows beyond the periods it expects: start-up, a loaded
/// machine, and a round blocked on the xtables lock (iptables' own `-w 5` waits five
/// seconds). It lengthens only waits that are about to fail.
const SLACK: Duration = Duration::from_secs(10);

impl CaseExecution<'_> {
    pub(super) fn wait(&mut self, w: &Wait) -> Result<(), StepError> {
        let outcomes_only = self.spec.profile.outcome_readiness();
        match w {
            Wait::Rules | Wait::RulesChanged if outcomes_only => {
                match self.expected_outcome_after_this_step() {
                    Some((selection, expected)) => {
                        self.wait_outcomes_as_expected(&selection, &expected)
                    }
                    None if matches!(w, Wait::Rules) => self.wait_read_then_stable(),
                    None => self.wait_outcomes_changed(),
                }
            }
            // The old process's rules stay through a restart: the new one gets
            // `act_within` before they count as its.
            Wait::Rules if self.spec.profile.adapter().is_some() => {
                self.wait_after_restart(0)?;
                self.wait_rules()
            }
            Wait::Rules => self.wait_rules(),
            Wait::RulesChanged => self.wait_rules_changed(),
            // Through an adapter the restart delivered the config.
            Wait::Reads(n) | Wait::UnobservableResyncs(n)
                if self.spec.profile.adapter().is_some() =>
            {
                self.wait_after_restart(*n)
            }
            Wait::Reads(n) => self.wait_reads(*n),
            Wait::UnobservableResyncs(n) => {
                let period = self.unobservable_period()?;
                self.alive_for(period.saturating_mul(*n).min(MAX_WAIT))
            }
        }
    }

    /// The implementation's resync period: the profile's, else the config's, else the
    /// reference's default.
    pub(super) fn period(&self) -> Duration {
        self.spec
            .profile
            .resync_period
            .as_ref()
            .map(|d| d.get())
            .or(self.waits.resync)
            .unwrap_or(DEFAULT_PERIOD)
    }

    /// Before an unobservable config replaces an observable one (no `resync_period` in
    /// the profile): until the implementation has read the current version again (a
    /// whole period seen) or left it unread, since its last read, longer than the hint
    /// allows, so that [`Self::unobservable_period`] has the evidence it needs.
    pub(super) fn observe_period_before(&mut self, next: &crate::fixture::ConfigSource) {
        let unobservable = !crate::fixture::observable(next.form) && next.files.is_empty();
        if !unobservable
            || self.spec.profile.resync_period.is_some()
            || !self.published_observably()
        {
            return;
        }
        let hint = self.period();
        let limit = observed::tolerance(hint) + poll::EVERY;
        let generation = self.node.volume.generation();
        // Bounded: ends `limit` after the last read (which only moves to reads that
        // happened), and in any case by this deadline.
        let deadline = Instant::now() + limit.saturating_mul(2).min(MAX_WAIT);
        let last_before = self
            .node
            .volume
            .history(generation)
            .and_then(|(_, reads)| reads.iter().max().copied());
        while Instant::now() < deadline {
            let Some((published, reads)) = self.node.volume.history(generation) else {
                return;
            };
            let last = reads.iter().max().copied();
            // A read again after an earlier one: it keeps to the hint, or not, as judged.
            let read_again = last_before.is_some() && last > last_before;
            if read_again || last.unwrap_or(published).elapsed() >= limit {
                return;
            }
            std::thread::sleep(poll::EVERY);
        }
    }

    /// The period an `unobservable-resyncs` wait counts: the profile's `resync_period`
    /// when it has one; else the config's hint, unless the reads of the version before
    /// showed a longer period (then that one, and the run says so), or a version left
    /// unread longer than the hint allows and no whole period seen: then the verdict
    /// would rest on reads nobody can see, and the case cannot be judged.
    fn unobservable_period(&mut self) -> Result<Duration, StepError> {
        let hint = self.period();
        if self.spec.profile.resync_period.is_some() || !self.waits.previous_observable {
            return Ok(hint);
        }
        let generation = self.node.volume.generation();
        let (Some((published, reads)), Some((replaced, _))) = (
            self.node.volume.history(generation.saturating_sub(1)),
            self.node.volume.history(generation),
        ) else {
            return Ok(hint);
        };
        match observed::judge(hint, published, &reads, replaced) {
            observed::Period::AsHinted => Ok(hint),
            observed::Period::Observed(period) => {
                let note = format!(
                    "step {}: reads showed a period of {period:.1?}, longer than the config's {hint:.1?}: it waited with the observed one (set resync_period in the profile to say so)",
                    self.step_no
                );
                eprintln!("note: {}: {note}", self.spec.name);
                self.out.measurements.notes.push(note);
                Ok(period)
            }
            observed::Period::Unknown { unread } => Err(StepError::PeriodUnobserved {
                unread,
                hint,
                published_at: self.waits.published_at,
            }),
        }
    }

    /// Reads of the current config by the implementation (the fewest over the files it
    /// reads).
    pub(super) fn reads(&mut self) -> u32 {
        self.node.reads()
    }

    /// Whether the runner can see the current config being read (a file, not an absent
    /// file, a directory or a symlink loop).
    pub(super) fn published_observably(&self) -> bool {
        if self.spec.profile.adapter().is_some() {
            return false; // no file: the restart delivers it
        }
        let Some(source) = &self.waits.current else {
            return false;
        };
        let mut forms = source.files.iter().map(|f| f.form).chain([source.form]);
        forms.any(|f| f != "files" && crate::fixture::observable(f))
    }

    /// Marks the present: later `reads` waits count from here.
    pub(super) fn mark_reads(&mut self) {
        self.adapter.marked_at = Some(Instant::now());
        self.waits.mark = (self.node.volume.generation(), self.reads());
    }

    /// Reads of the current config since the last mark.
    fn reads_since_mark(&mut self) -> u32 {
        let (generation, at_mark) = self.waits.mark;
        let base = if generation == self.node.volume.generation() {
            at_mark
        } else {
            0
        };
        self.reads().saturating_sub(base)
    }

    /// Until the implementation has read the current config `n` times since the mark,
    /// then `act_within` more: the time it declares it needs to act on a read. Never cut
    /// short by its next read: an implementation that acts seconds after a read reads
    /// again before it acted when its period is short.
    fn wait_reads(&mut self, n: u32) -> Result<(), StepError> {
        let limit = (self.period().saturating_mul(n) + self.period().max(SLACK)).min(MAX_WAIT);
        let waited = poll::until(String::new, limit, poll::EVERY, || {
            self.implementation.check_alive()?;
            Ok::<_, StepError>((self.reads_since_mark() >= n).then_some(()))
        })?;
        if let Err(t) = waited {
            return Err(StepError::ConfigNotRead {
                published_at: self.waits.published_at,
                within: t.waited,
                reads: self.reads_since_mark(),
                wanted: n,
            });
        }
        self.alive_for(self.spec.profile.act_within())
    }

    /// Sleeps `d`, checking at every poll that the implementation is still alive.
    pub(super) fn alive_for(&mut self, d: Duration) -> Result<(), StepError> {
        let until = Instant::now() + d.min(MAX_WAIT);
        loop {
            self.implementation.check_alive()?;
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            std::thread::sleep(poll::EVERY.min(until - now));
        }
    }

    /// Whether the config in force is one the model calls bad (a conforming
    /// implementation keeps its last good rules, and keeps running).
    fn current_config_is_bad(&self) -> bool {
        let (Some(source), Ok(flags)) = (&self.waits.current, &self.spec.fixture.typed_flags)
        else {
            return false;
        };
        if !source.files.is_empty() {
            return false; // merged files: the model judges no single file's badness
        }
        let published = crate::model::Published::from(&source.content);
        matches!(
            crate::model::read(&published, flags),
            crate::model::Reading::Bad(_)
        )
    }

    /// A case that ends on a bad config ends only `act_within` after the
    /// implementation's last read of it (or after now, if the runner saw none), and
    /// checks then that the implementation is alive: one that dies seconds after reading
    /// a bad config must not pass because the case was over first.
    pub(super) fn end_on_bad_config(&mut self) -> Result<(), StepError> {
        let running = self.implementation.running.is_some() && !self.implementation.terminated;
        if !running || !self.current_config_is_bad() {
            return Ok(());
        }
        let last = self.node.volume.last_read_of_current();
        let from = last.unwrap_or_else(Instant::now);
        let until = from + self.spec.profile.act_within();
        let left = until.saturating_duration_since(Instant::now());
        self.alive_for(left).map_err(|e| match e {
            StepError::Exited(status) => StepError::ExitedAfterBadConfig {
                status,
                after: last.map(|t| t.elapsed()),
            },
            other => other,
        })
    }

    fn wait_rules(&mut self) -> Result<(), StepError> {
        let chain = self.chain();
        let nftables = self.spec.profile.listings == ListingKind::Nftables;
        let (node, implementation) = (&self.node, &mut self.implementation);
        let waited = poll::until(
            || {
                match nftables {
                true => "the implementation's nftables table with a chain hooked at postrouting and a masquerade statement".to_string(),
                false => format!(
                    "chain {chain} with a MASQUERADE rule and a POSTROUTING jump to it in the nat table{}",
                    if node.families.len() > 1 { " (IPv4 and IPv6)" } else { "" }
                ),
            }
            },
            READY_TIMEOUT,
            poll::EVERY,
            || {
                implementation.check_alive()?;
                Ok::<_, StepError>(node.ready(&chain)?.then_some(()))
            },
        )?;
        waited.map_err(|t| {
            StepError::timed_out(
                t,
                format!(
                    "the table was:\n{}",
                    self.node.current_rules().unwrap_or_default()
                ),
            )
        })
    }

    fn wait_rules_changed(&mut self) -> Result<(), StepError> {
        let baseline = self.waits.baseline.clone().ok_or_else(|| {
            StepError::Misuse("wait: rules-changed cannot follow a tamper step (the implementation may heal before the runner looks); wait with `rules`".into())
        })?;
        let limit = READY_TIMEOUT
            .max(self.period().saturating_mul(4))
            .min(MAX_WAIT);
        let (node, implementation) = (&self.node, &mut self.implementation);
        let waited = poll::until(
            || "the implementation's rules to change".to_string(),
            limit,
            poll::EVERY,
            || {
                implementation.check_alive()?;
                Ok::<_, StepError>((node.current_rules()? != baseline).then_some(()))
            },
        )?;
        waited.map_err(|t| StepError::timed_out(t, format!("it stayed:\n{baseline}")))?;
        self.note_act_delay();
        Ok(())
    }

    /// The delay from the implementation's first read of the current config to the
    /// change of its rules, measured: when it exceeds `act_within`, waits after a read
    /// give it too little, and the run says so.
    fn note_act_delay(&mut self) {
        let generation = self.node.volume.generation();
        let Some((_, reads)) = self.node.volume.history(generation) else {
            return;
        };
        let Some(first) = reads.iter().min() else {
            return;
        };
        let delay = first.elapsed();
        self.out.measurements.act_delays.push(delay);
        let act_within = self.spec.profile.act_within();
        if delay > act_within + poll::EVERY {
            let note = format!(
                "step {}: the rules changed {delay:.1?} after the first read of the config published at step {}, later than act_within ({act_within:.1?}): waits after a read give it only act_within (raise act_within in the profile)",
                self.step_no, self.waits.published_at
            );
            eprintln!("note: {}: {note}", self.spec.name);
            self.out.measurements.notes.push(note);
        }
    }

    /// Every interval between two reads of a version the case published, for the
    /// record (read once the case is over: the volume keeps each version's reads).
    pub(super) fn measure_read_periods(&mut self) {
        let m = &mut self.out.measurements;
        for g in 1..=self.node.volume.generation() {
            let Some((_, reads)) = self.node.volume.history(g) else {
                continue;
            };
            let periods = observed::read_intervals(&reads);
            m.reads += usize::from(!reads.is_empty()) + periods.len();
            m.read_periods.extend(periods);
        }
    }

    /// The probe step that follows this wait, and the outcome table the reviewed snapshot
    /// expects of it (when the snapshot records that probe's table).
    fn expected_outcome_after_this_step(&self) -> Option<(ProbeSelection, String)> {
        let steps = &self.spec.fixture.steps;
        let (probe_at, selection) = steps
            .iter()
            .enumerate()
            .skip(self.step_no)
            .take_while(|(_, s)| !matches!(s, Step::Config(_) | Step::Tamper(_) | Step::Fault(_)))
            .find_map(|(i, s)| match s {
                Step::Probe(sel) => Some((i, sel.clone())),
                _ => None,
            })?;
        let snapshot_step = steps
            .iter()
            .enumerate()
            .skip(probe_at + 1)
            .take_while(|(_, s)| {
                !matches!(s, Step::Probe(_) | Step::FlowOpen(_) | Step::FlowProbe(_))
            })
            .find_map(|(i, s)| match s {
                Step::Snapshot(parts) if parts.parts().contains(&SnapshotPart::Outcome) => {
                    Some(i + 1)
                }
                _ => None,
            })?;
        let body = self
            .spec
            .expected?
            .outcome(snapshot_step, selection.direction())?
            .render();
        Some((selection, body))
    }

    /// Readiness of an implementation without iptables rules: the next probe's outcome
    /// table is what the snapshot expects of it.
    fn wait_outcomes_as_expected(
        &mut self,
        selection: &ProbeSelection,
        expected: &str,
    ) -> Result<(), StepError> {
        let mut last = String::new();
        let limit = READY_TIMEOUT
            .max(self.period().saturating_mul(4))
            .min(MAX_WAIT);
        let waited = poll::until(
            || "the outcome table the snapshot expects of the next probe".to_string(),
            limit,
            poll::EVERY,
            || {
                self.implementation.check_alive()?;
                let mut table = self.probe_selection(selection)?;
                if self.ipv6_cells_unbound() {
                    // As judged: the snapshot's IPv6 rows were left out of `expected`.
                    table.rows.retain(|r| !r.address.is_ipv6());
                }
                last = render_table(&table);
                Ok::<_, StepError>((last == expected).then_some(()))
            },
        )?;
        waited.map_err(|t| {
            StepError::timed_out(t, format!("expected:\n{expected}last seen:\n{last}"))
        })
    }

    /// Readiness without a snapshot to go by: the implementation has read the config
    /// and had the chance to act, and two rounds of probes agree.
    fn wait_read_then_stable(&mut self) -> Result<(), StepError> {
        if self.waits.published_at > 0 && self.published_observably() {
            self.wait_reads(1)?;
        }
        let targets = standard_targets();
        let mut last = self.probe(&targets, &Proto::ALL)?;
        let waited = poll::until(
            || "probe outcomes to settle".to_string(),
            READY_TIMEOUT,
            Duration::ZERO,
            || {
                self.implementation.check_alive()?;
                let next = self.probe(&targets, &Proto::ALL)?;
                let settled = next == last;
                last = next;
                Ok::<_, StepError>(settled.then_some(()))
            },
        )?;
        waited.map_err(|t| StepError::timed_out(t, ""))
    }

    fn wait_outcomes_changed(&mut self) -> Result<(), StepError> {
        let targets = standard_targets();
        let before = self.out.tables.last().cloned().ok_or_else(|| {
            StepError::Misuse(
                "wait: rules-changed on an outcomes-only implementation needs an earlier probe step"
                    .into(),
            )
        })?;
        let waited = poll::until(
            || "probe outcomes to change".to_string(),
            READY_TIMEOUT,
            poll::EVERY,
            || {
                self.implementation.check_alive()?;
                Ok::<_, StepError>((self.probe(&targets, &Proto::ALL)? != before).then_some(()))
            },
        )?;
        waited.map_err(|t| StepError::timed_out(t, ""))
    }
}
