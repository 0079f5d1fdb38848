//! The one error type of a case: which step failed, and why.

use std::process::ExitStatus;

use crate::guard::GuardError;
use crate::implementation::ImplementationError;
use crate::iptables::IptablesError;
use crate::limits::LimitHit;
use crate::poll::TimedOut;
use crate::probe::ProbeError;
use crate::topology::TopologyError;

/// Why a case could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("building the sandbox: {0}")]
    Sandbox(#[from] TopologyError),
    #[error("preparing the case: {0}")]
    Setup(#[source] SetupError),
    /// A step failed; `number` counts from 1 as in the fixture.
    #[error("step {number} ({name}): {error}")]
    Step {
        number: usize,
        name: &'static str,
        #[source]
        error: StepError,
    },
    /// The implementation ran into one of the case's limits: the case fails whatever its
    /// steps made of it (`then`: how the steps ended, if they failed).
    #[error("the implementation hit {hit}{}{}", seen_suffix(.seen), then_suffix(.then))]
    Limit {
        hit: LimitHit,
        /// What the runner saw of it (a peak, the log's size).
        seen: Option<String>,
        then: Option<Box<CaseError>>,
    },
}

fn then_suffix(then: &Option<Box<CaseError>>) -> String {
    then.as_ref()
        .map(|e| format!("; then {e}"))
        .unwrap_or_default()
}

fn seen_suffix(seen: &Option<String>) -> String {
    seen.as_ref().map(|s| format!(": {s}")).unwrap_or_default()
}

impl CaseError {
    /// The failing step's number, if a step failed.
    pub fn step(&self) -> Option<usize> {
        match self {
            CaseError::Step { number, .. } => Some(*number),
            CaseError::Limit { then, .. } => then.as_ref().and_then(|e| e.step()),
            _ => None,
        }
    }

    /// Whether the case could not be judged ([`StepError::PeriodUnobserved`]): it is
    /// `inconclusive`, neither passed nor failed.
    pub fn is_inconclusive(&self) -> bool {
        matches!(
            self,
            CaseError::Step {
                error: StepError::PeriodUnobserved { .. },
                ..
            }
        )
    }

    /// Whether the implementation hit one of the case's limits.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            CaseError::Limit { .. }
                | CaseError::Step {
                    error: StepError::Limit { .. },
                    ..
                }
        )
    }

    /// A case whose implementation hit `hit` fails naming it, whatever else happened.
    pub fn with_limit(
        hit: Option<(LimitHit, Option<String>)>,
        error: Option<CaseError>,
    ) -> Option<CaseError> {
        match (hit, error) {
            (_, Some(e @ CaseError::Limit { .. })) => Some(e),
            (
                _,
                Some(
                    e @ CaseError::Step {
                        error: StepError::Limit { .. },
                        ..
                    },
                ),
            ) => Some(e),
            (Some((hit, seen)), then) => Some(CaseError::Limit {
                hit,
                seen,
                then: then.map(Box::new),
            }),
            (None, error) => error,
        }
    }
}

/// What went wrong before the first step.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the profile's config_path has no file name")]
    ConfigPathWithoutFileName,
    #[error("creating the config volume: {0}")]
    Volume(#[source] std::io::Error),
    #[error("backend {backend}: {source}")]
    IptablesBackend {
        backend: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("starting the receivers: {0}")]
    Receivers(#[source] ProbeError),
}

/// What went wrong in one step.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Guard(#[from] GuardError),
    #[error(transparent)]
    Iptables(#[from] IptablesError),
    #[error(transparent)]
    Nft(#[from] crate::nftables::NftError),
    #[error(transparent)]
    Implementation(#[from] ImplementationError),
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error("publishing the config: {0}")]
    Publish(#[source] std::io::Error),
    /// A bounded wait ran out; `detail` shows what the runner last saw.
    #[error("{timed_out}{}", detail_suffix(.detail))]
    TimedOut { timed_out: TimedOut, detail: String },
    /// The implementation did not read the config as often as the wait asked.
    #[error("did not read the config published at step {published_at} within {within:.1?} (read it {reads} of {wanted} times)")]
    ConfigNotRead {
        published_at: usize,
        within: std::time::Duration,
        reads: u32,
        wanted: u32,
    },
    /// A `reload-latency` publication was not applied in time.
    #[error("publication {swap} was not applied within {within:.1?}: new flows to {destination} still showed {seen}")]
    ConfigNotApplied {
        swap: u32,
        within: std::time::Duration,
        destination: String,
        seen: String,
    },
    /// A flap ended without the implementation reading any of its bad versions: it
    /// proved nothing about keeping the last good config.
    #[error("the implementation read none of the {versions} bad versions the flap published within {within:.1?}: the flap proves nothing about keeping the last good config")]
    BadVersionNeverRead {
        versions: usize,
        within: std::time::Duration,
    },
    /// `reload-latency`: half the publications took longer than the fixture promises.
    #[error("new flows to {destination} took {p50:.1?} (median) to show a published config, more than the {promised:.1?} the fixture allows (its resyncInterval and act_within)")]
    ReloadTooSlow {
        p50: std::time::Duration,
        promised: std::time::Duration,
        destination: String,
    },
    /// It exited while the case gave it `act_within` after its last read of a bad
    /// config: a conforming implementation keeps its last good config, and runs.
    #[error("the implementation exited ({status}){} of the bad config in force", after_suffix(.after))]
    ExitedAfterBadConfig {
        status: ExitStatus,
        after: Option<std::time::Duration>,
    },
    /// Every listing of the chain counted fewer flows than the probe before it sent
    /// through the chain: the implementation rewrote it between probe and listing.
    #[error("counters reset by a resync: in each of {attempts} attempts the {family} chain counted fewer flows than the probe had just sent through it (the last time {counted} of {sent}): the implementation rewrote its chain between the probe and the listing every time")]
    CountersReset {
        family: &'static str,
        counted: u64,
        sent: u64,
        attempts: usize,
    },
    /// An `unobservable-resyncs` wait whose period is not known: the config before was
    /// left unread longer than its hint allows, and no whole period was seen.
    #[error("inconclusive: this wait rests on reads the runner cannot see, and the config before the one published at step {published_at} went unread for {unread:.1?}, longer than its resyncInterval ({hint:.1?}) allows, with no whole period seen: set resync_period in the profile")]
    PeriodUnobserved {
        unread: std::time::Duration,
        hint: std::time::Duration,
        published_at: usize,
    },
    #[error("the implementation exited ({0})")]
    Exited(ExitStatus),
    #[error("the implementation has not been started")]
    NotStarted,
    /// It ran into one of the case's limits (pids, memory, output).
    #[error("the implementation hit {hit}{}", seen_suffix(.seen))]
    Limit { hit: LimitHit, seen: Option<String> },
    #[error("the implementation is already running")]
    AlreadyRunning,
    /// A step used in a way the runner cannot honour (e.g. `rules-changed` right after a
    /// tamper); fixtures that load cleanly can still combine steps so.
    #[error("{0}")]
    Misuse(String),
    /// A fault or a tool of the runner failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed: {stderr}")]
    Tool { command: String, stderr: String },
}

fn after_suffix(after: &Option<std::time::Duration>) -> String {
    match after {
        Some(d) => format!(" within {d:.1?} of its last read"),
        None => " with no read the runner saw".to_string(),
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!("; {detail}")
    }
}

impl StepError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        StepError::Io {
            what: what.into(),
            source,
        }
    }

    pub fn timed_out(timed_out: TimedOut, detail: impl Into<String>) -> Self {
        StepError::TimedOut {
            timed_out,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_step_error_names_the_step() {
        let e = CaseError::Step {
            number: 3,
            name: "wait",
            error: StepError::timed_out(
                TimedOut {
                    what: "the nat table to change".into(),
                    waited: Duration::from_secs(15),
                },
                "it was: x",
            ),
        };
        assert_eq!(
            e.to_string(),
            "step 3 (wait): timed out after 15s waiting for the nat table to change; it was: x"
        );
        assert_eq!(e.step(), Some(3));
        let limited = CaseError::with_limit(Some((LimitHit::Pids(512), None)), Some(e)).unwrap();
        assert_eq!(
            limited.to_string(),
            "the implementation hit the case's pids limit (512); then step 3 (wait): timed out after 15s waiting for the nat table to change; it was: x"
        );
        assert_eq!(limited.step(), Some(3));
        let seen = Some("its output stopped at 16777216 bytes".to_string());
        let alone = CaseError::with_limit(Some((LimitHit::Output(16 << 20), seen)), None).unwrap();
        assert_eq!(
            alone.to_string(),
            "the implementation hit the case's output limit (16 MiB): its output stopped at 16777216 bytes"
        );
        assert!(CaseError::with_limit(None, None).is_none());
    }
}
