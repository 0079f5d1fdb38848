//! The resync loop (docs/spec.md §5): read the config, keep the last good one, apply.
//!
//! Each round reads the config file. A valid config becomes current and is applied:
//! restore the chain (which creates it if missing), then ensure the POSTROUTING jump, for
//! IPv4 and then IPv6 (an IPv4 failure skips IPv6 for that round, as in the reference).
//! The jump comes after the chain's content so that a failing restore never leaves a jump
//! to an empty or half-written chain. An invalid config is logged and the kernel is left
//! untouched that round, so a flushed chain stays flushed until the config is fixed (the
//! reference's behaviour). Until the first good config nothing is written.
//!
//! The round's kernel work is a [`plan`] of [`Step`]s, run in order, the first failure
//! ending the round; the loop itself does not know which datapath it drives. The iptables
//! datapath restores and jumps per family as above, then deletes the nftables datapath's
//! table if one is left; the nftables datapath updates its table in place (two `nft -f -`
//! transactions, sets then rules, IPv4 and IPv6 together; none when the table is as it
//! left it: [`crate::datapath::nftables::sync`]), then removes the iptables datapath's chain
//! and jump for both families. Removing the other datapath's rules comes after the new rules are in, so the node is never without rules; it runs every round (a
//! leftover that reappears is removed again), and a failure there fails the round (and
//! `/readyz`) while the new rules stay.
//!
//! Rounds happen every resync interval and, besides, as soon as the config's directory
//! changes ([`Wake::ConfigChanged`], from [`watch`]); a stop request ([`Wake::Stop`] plus the
//! shared [`StopFlag`]) ends the loop at once, even in the middle of a round.

pub mod health;
mod load;
mod plan;
mod settings;
pub mod watch;

pub use load::{
    load_config, parse_config, read_config, ConfigBytes, LoadError, Source, MAX_CONFIG_BYTES,
};
pub use plan::{dry_run_text, nft_scripts, payloads, plan, Step};
pub use settings::{Settings, DEFAULT_CONFIG_PATH};

use crate::config::{self, format_go_duration, Config};
use crate::datapath::backend::{Backend, BackendError, Cleanup, StopFlag};
use crate::datapath::nftables::sync::NftSync;
use crate::datapath::Datapath;
use health::Health;
use std::collections::HashSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The shortest interval between two rounds; see docs/spec.md §7 "Where this project deliberately
/// differs": the reference spins on `resyncInterval: 0`, we do not.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Why a round did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}; keeping the previous config and leaving the rules untouched")]
    Load(#[from] LoadError),
    #[error("applying rules failed: {0}")]
    Apply(#[from] BackendError),
    #[error(
        "removing the other datapath's rules failed (this datapath's rules are in place): {0}"
    )]
    Cleanup(BackendError),
    #[error("stopping: round abandoned")]
    Stopped,
}

/// What wakes the loop before its interval is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// SIGTERM/SIGINT: leave now, rules stay in place.
    Stop,
    /// The config's directory changed: sync soon (after a short quiet period).
    ConfigChanged,
}

/// After a change event, how long the directory must stay quiet before the round starts
/// (the kubelet's swap and a delete-then-recreate each come as a burst of events).
pub const DEBOUNCE: Duration = Duration::from_millis(10);

/// The longest a burst of change events may delay a round.
pub const MAX_DEBOUNCE: Duration = Duration::from_millis(50);

/// The agent's state between rounds.
pub struct Agent<B: Backend> {
    settings: Settings,
    backend: B,
    stop: StopFlag,
    health: Health,
    current: Option<Config>,
    random_fully: Option<bool>,
    last_warnings: Vec<String>,
    /// The last round's error message, so an unchanged error is logged once.
    last_error: Option<String>,
    warned_interval: bool,
    /// Tools found missing while removing the other datapath's rules (logged once).
    missing_tools: HashSet<String>,
    /// What the nftables datapath last left in the kernel (to skip a sync with nothing
    /// to do).
    nft: NftSync,
    /// What the last round read at the config path (`None`: it could not read it), so
    /// that a change event over the same bytes costs no round.
    last_read: Option<ConfigBytes>,
    /// What a change event's check read and found different: the next round uses it
    /// instead of reading again (one read per round, as before the check existed).
    pending_read: Option<ConfigBytes>,
}

impl<B: Backend> Agent<B> {
    pub fn new(settings: Settings, backend: B, stop: StopFlag) -> Self {
        Agent {
            health: Health::new(settings.command_timeout),
            settings,
            backend,
            stop,
            current: None,
            random_fully: None,
            last_warnings: Vec::new(),
            last_error: None,
            warned_interval: false,
            missing_tools: HashSet::new(),
            nft: NftSync::default(),
            last_read: None,
            pending_read: None,
        }
    }

    /// The health record this agent updates at every round (for `/healthz` and `/readyz`).
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// The backend (tests inspect a fake's record through it).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// One round: load, and apply if the config is good.
    pub fn sync(&mut self) -> Result<(), SyncError> {
        if self.stop.is_set() {
            return Err(SyncError::Stopped);
        }
        let path = &self.settings.config_path;
        self.last_read = None;
        let start = Instant::now();
        let bytes = match self.pending_read.take() {
            Some(bytes) => bytes,
            None => read_config(path)?,
        };
        let read = start.elapsed();
        let parsed = parse_config(path, bytes.as_deref(), &self.settings.parse_options());
        tracing::debug!(
            "config read in {:.3} ms, parsed in {:.3} ms",
            read.as_secs_f64() * 1e3,
            (start.elapsed() - read).as_secs_f64() * 1e3
        );
        self.last_read = Some(bytes);
        let (parsed, source) = parsed?;
        if parsed.warnings != self.last_warnings {
            for w in &parsed.warnings {
                tracing::warn!(path = %self.settings.config_path.display(), "config: {w}");
            }
            self.last_warnings = parsed.warnings.clone();
        }
        if self.current.as_ref() != Some(&parsed.config) {
            match source {
                Source::Absent => tracing::info!(
                    path = %self.settings.config_path.display(),
                    "config file absent, using defaults: {}", parsed.config
                ),
                Source::File => tracing::info!(
                    path = %self.settings.config_path.display(),
                    "config loaded: {}", parsed.config
                ),
            }
        }
        self.current = Some(parsed.config);
        self.apply()
    }

    fn apply(&mut self) -> Result<(), SyncError> {
        let Some(config) = self.current.clone() else {
            return Ok(());
        };
        // nft and the kernel take fully-random wherever an inet nat chain exists; only
        // iptables older than 1.6.2 lacks --random-fully.
        let probe =
            self.settings.rules.random_fully && self.settings.datapath == Datapath::Iptables;
        let random_fully = if probe {
            match self.random_fully {
                Some(v) => v,
                None => {
                    let v = self.backend.supports_random_fully()?;
                    if !v {
                        tracing::warn!(
                            "iptables is older than 1.6.2: MASQUERADE without --random-fully"
                        );
                    }
                    self.random_fully = Some(v);
                    v
                }
            }
        } else {
            self.settings.rules.random_fully
        };
        let chain = self.settings.rules.chain.clone();
        let (mut applied, mut cleaned) = (Duration::ZERO, Duration::ZERO);
        let start = Instant::now();
        let steps = plan(&config, &self.settings, random_fully);
        tracing::debug!("planned in {:.3} ms", start.elapsed().as_secs_f64() * 1e3);
        for step in steps {
            if self.stop.is_set() {
                return Err(SyncError::Stopped);
            }
            let start = Instant::now();
            match self.run_step(&step) {
                Ok(()) => {}
                // A SIGTERM that lands while a tool runs kills the tool: the round was
                // abandoned, it did not fail (nothing to log as an error, health untouched).
                Err(BackendError::Interrupted { .. }) => return Err(SyncError::Stopped),
                Err(e) if step.applies() => return Err(SyncError::Apply(e)),
                Err(e) => return Err(SyncError::Cleanup(e)),
            }
            if step.applies() {
                applied += start.elapsed();
            } else {
                cleaned += start.elapsed();
            }
        }
        tracing::info!(
            "synced: {} nonMasqueradeCIDRs, masqLinkLocal={}, masqLinkLocalIPv6={}, chain {}{}; datapath {}, applied in {:.1} ms, other datapath checked in {:.1} ms",
            config.non_masquerade_cidrs.len(),
            config.masq_link_local,
            config.masq_link_local_ipv6,
            chain,
            if self.settings.rules.ipv6 {
                " (IPv4 and IPv6)"
            } else {
                " (IPv4)"
            },
            self.settings.datapath.name(),
            applied.as_secs_f64() * 1e3,
            cleaned.as_secs_f64() * 1e3,
        );
        Ok(())
    }

    fn run_step(&mut self, step: &Step) -> Result<(), BackendError> {
        let cleanup = match step {
            Step::Restore(family, payload) => {
                self.backend.restore(*family, payload)?;
                tracing::debug!(?family, "restored:\n{payload}");
                return Ok(());
            }
            Step::EnsureJump(family, chain) => return self.backend.ensure_jump(*family, chain),
            Step::NftApply(scripts) => return self.nft.sync(&mut self.backend, scripts),
            Step::RemoveIptables(family, chain) => self.backend.remove_iptables(*family, chain)?,
            Step::RemoveNftTable(table) => self.backend.remove_nft_table(table)?,
        };
        match cleanup {
            Cleanup::Nothing => {}
            Cleanup::Removed(what) => {
                tracing::info!("removed the other datapath's rules: {what}");
            }
            Cleanup::ToolMissing(tool) => {
                if self.missing_tools.insert(tool.clone()) {
                    tracing::debug!(
                        "{tool} is not on PATH: not looking for the other datapath's rules there (rules written by a {tool} that is not installed cannot be seen)"
                    );
                }
            }
        }
        Ok(())
    }

    /// Time until the next round: the current config's interval (defaults before the first
    /// good config), never below [`MIN_INTERVAL`].
    pub fn interval(&mut self) -> Duration {
        let nanos = self
            .current
            .as_ref()
            .map_or(config::DEFAULT_RESYNC_NANOS, |c| c.resync_interval_nanos);
        if nanos <= 0 && !self.warned_interval {
            tracing::warn!(
                "resyncInterval {} is not positive; re-syncing every {:?} instead",
                format_go_duration(nanos),
                MIN_INTERVAL
            );
            self.warned_interval = true;
        }
        let d = Duration::from_nanos(nanos.max(0) as u64);
        d.max(MIN_INTERVAL)
    }

    /// Logs a round's outcome and records it for `/healthz` and `/readyz`. An error identical to the
    /// previous round's is logged once (then at debug level): the reference likewise
    /// stays quiet while its file does not change, and a bad value must not flood logs.
    fn report(&mut self, result: Result<(), SyncError>) {
        let interval = self.interval();
        match result {
            Ok(()) => {
                if self.last_error.take().is_some() {
                    tracing::info!("recovered: the last round succeeded");
                }
                self.health.succeeded(Instant::now(), interval);
            }
            Err(SyncError::Stopped) => {}
            Err(e) => {
                let msg = e.to_string();
                if self.last_error.as_deref() == Some(msg.as_str()) {
                    tracing::debug!("unchanged: {msg}");
                } else {
                    tracing::error!("{msg}");
                }
                let config_invalid = matches!(e, SyncError::Load(_));
                self.health
                    .failed(Instant::now(), &msg, config_invalid, interval);
                self.last_error = Some(msg);
            }
        }
    }

    /// Runs rounds until a [`Wake::Stop`] arrives, the stop flag is set, or every sender
    /// of `wake` is gone.
    pub fn run(&mut self, wake: &Receiver<Wake>) {
        loop {
            self.health.round_started(Instant::now());
            let result = self.sync();
            self.report(result);
            if self.stop.is_set() || !self.wait(wake) {
                break;
            }
        }
    }

    /// Waits for the next round: the interval, or a config change (debounced) that
    /// changed what the config path holds. Change events over the same bytes (a loop
    /// touching the file's times, a ConfigMap republished unchanged) cost one read each
    /// and no round, and do not move the next resync. False when the loop must end.
    fn wait(&mut self, wake: &Receiver<Wake>) -> bool {
        let resync = Instant::now() + self.interval();
        loop {
            match wake.recv_timeout(resync.saturating_duration_since(Instant::now())) {
                Err(RecvTimeoutError::Timeout) => return true,
                Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return false,
                Ok(Wake::ConfigChanged) => {
                    if !self.debounce(wake) {
                        return false;
                    }
                    if !self.config_unchanged() {
                        return true;
                    }
                    tracing::debug!("config change event, same bytes: no round");
                }
            }
        }
    }

    /// After a change event, waits until the events stop (at most [`MAX_DEBOUNCE`]).
    /// False when the loop must end.
    fn debounce(&self, wake: &Receiver<Wake>) -> bool {
        let burst = Instant::now();
        loop {
            let quiet = DEBOUNCE.min(MAX_DEBOUNCE.saturating_sub(burst.elapsed()));
            match wake.recv_timeout(quiet) {
                Ok(Wake::ConfigChanged) => continue,
                Err(RecvTimeoutError::Timeout) => return !self.stop.is_set(),
                Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    /// Whether the config path holds what the last round read (a failed read never counts
    /// as unchanged). What it read otherwise is kept for the round that follows.
    fn config_unchanged(&mut self) -> bool {
        let Ok(now) = read_config(&self.settings.config_path) else {
            return false;
        };
        if self.last_read.as_ref() == Some(&now) {
            return true;
        }
        self.pending_read = Some(now);
        false
    }
}

#[cfg(test)]
mod tests;
