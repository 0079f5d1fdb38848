//! Waiting: the `wait` steps, each bounded and each saying what it waited for.

use std::time::Duration;

use super::error::StepError;
use super::outcome::standard_targets;
use super::Runner;
use crate::fixture::Wait;
use crate::implementation::Readiness;
use crate::poll::{self, MAX_WAIT};
use crate::probe::Proto;

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
}

impl Runner<'_> {
    pub(super) fn wait(&mut self, w: &Wait) -> Result<(), StepError> {
        let outcomes_only = self.spec.profile.readiness == Readiness::Outcomes;
        match w {
            Wait::Rules if outcomes_only => self.wait_outcomes_stable(),
            Wait::Rules => self.wait_rules(),
            Wait::RulesChanged if outcomes_only => self.wait_outcomes_changed(),
            Wait::RulesChanged => self.wait_rules_changed(),
            Wait::Resyncs(n) => {
                let interval = self.waits.resync.ok_or_else(|| {
                    StepError::Misuse("wait: resyncs needs a resync interval".into())
                })?;
                std::thread::sleep((interval * *n).min(MAX_WAIT));
                self.implementation.check_alive()
            }
        }
    }

    fn wait_rules(&mut self) -> Result<(), StepError> {
        let chain = self.spec.fixture.chain();
        let (node, implementation) = (&self.node, &mut self.implementation);
        let waited = poll::until(
            || {
                format!(
                    "chain {chain} with a MASQUERADE rule and a POSTROUTING jump to it in the nat table{}",
                    if node.families.len() > 1 { " (IPv4 and IPv6)" } else { "" }
                )
            },
            READY_TIMEOUT,
            poll::EVERY,
            || {
                implementation.check_alive()?;
                Ok::<_, StepError>(node.rules_in_place(&chain)?.then_some(()))
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
            .max(self.waits.resync.unwrap_or_default().saturating_mul(4))
            .min(MAX_WAIT);
        let (node, implementation) = (&self.node, &mut self.implementation);
        let waited = poll::until(
            || "the nat table to change".to_string(),
            limit,
            poll::EVERY,
            || {
                implementation.check_alive()?;
                Ok::<_, StepError>((node.current_rules()? != baseline).then_some(()))
            },
        )?;
        waited.map_err(|t| StepError::timed_out(t, format!("it stayed:\n{baseline}")))
    }

    /// Readiness of an implementation without iptables rules: two rounds of probes agree.
    fn wait_outcomes_stable(&mut self) -> Result<(), StepError> {
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
