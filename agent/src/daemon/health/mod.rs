//! What `/healthz` and `/readyz` answer (`--health-address HOST:PORT`, off by default),
//! kept apart because they drive different decisions in Kubernetes:
//!
//! - **liveness** (`/healthz`): the loop is alive. 200 while a round started or ended
//!   within two resync periods plus the command timeout (a round whose tool hangs is
//!   ended by that timeout), 503 when the loop is gone or wedged. A bad config does not
//!   make the agent dead: it keeps its last good rules, which is right, and restarting
//!   it would change nothing. So the livenessProbe restarts only an agent that stopped
//!   working.
//! - **readiness** (`/readyz`): the rules are in place. 200 while a round applied the
//!   rules within the last two resync periods and the config is valid; 503 with the
//!   reason otherwise: at once while the config is invalid (its error), or when no
//!   round has applied for two periods (the last error). Two periods rather than one so
//!   that a round that merely runs late is not a failure.
//!
//! The HTTP side is [`server`].

pub mod server;

pub use server::{serve, HealthError};

use crate::config::DEFAULT_RESYNC_NANOS;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct State {
    /// The last round's start or end (creation before the first round).
    heartbeat: Instant,
    /// How long one round may take before the loop counts as wedged (the command
    /// timeout: a hanging tool is killed then, which ends the round).
    round_budget: Duration,
    interval: Duration,
    last_success: Option<Instant>,
    last_error: Option<String>,
    /// The config's error while it is invalid.
    config_error: Option<String>,
}

/// The daemon's health record, shared between the loop and the server.
#[derive(Debug, Clone)]
pub struct Health(Arc<Mutex<State>>);

impl Health {
    /// A record for a loop whose rounds may take up to `round_budget` each.
    pub fn new(round_budget: Duration) -> Self {
        Health(Arc::new(Mutex::new(State {
            heartbeat: Instant::now(),
            round_budget,
            interval: Duration::from_nanos(DEFAULT_RESYNC_NANOS as u64),
            last_success: None,
            last_error: None,
            config_error: None,
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A round starts at `now`.
    pub fn round_started(&self, now: Instant) {
        self.state().heartbeat = now;
    }

    /// A round applied the rules at `now`; `interval` is the current resync interval.
    pub fn succeeded(&self, now: Instant, interval: Duration) {
        let mut s = self.state();
        s.heartbeat = now;
        s.last_success = Some(now);
        s.last_error = None;
        s.config_error = None;
        s.interval = interval;
    }

    /// A round ended at `now` without applying: `reason`; `config_invalid` when the
    /// config could not be loaded (the rules stay as they were).
    pub fn failed(&self, now: Instant, reason: &str, config_invalid: bool, interval: Duration) {
        let mut s = self.state();
        s.heartbeat = now;
        s.last_error = Some(reason.to_string());
        s.config_error = config_invalid.then(|| reason.to_string());
        s.interval = interval;
    }

    /// Liveness at `now`: `Ok(text)` while the loop is alive, `Err(reason)` otherwise.
    pub fn liveness(&self, now: Instant) -> Result<String, String> {
        let s = self.state();
        let allowed = s.interval * 2 + s.round_budget;
        let since = now.saturating_duration_since(s.heartbeat);
        if since <= allowed {
            Ok(format!("ok: the loop was last seen {since:?} ago"))
        } else {
            Err(format!(
                "the loop was last seen {since:?} ago, more than two resync periods and the command timeout ({allowed:?})"
            ))
        }
    }

    /// Readiness at `now`: `Ok(text)` while the rules are in place, `Err(reason)`
    /// otherwise.
    pub fn readiness(&self, now: Instant) -> Result<String, String> {
        let s = self.state();
        if let Some(e) = &s.config_error {
            return Err(format!("config invalid, the last good rules stay: {e}"));
        }
        let allowed = s.interval * 2;
        let why = |what: String| match &s.last_error {
            Some(e) => format!("{what}; last error: {e}"),
            None => what,
        };
        match s.last_success {
            None => Err(why("no successful sync yet".into())),
            Some(t) if now.saturating_duration_since(t) <= allowed => Ok(format!(
                "ok: last sync {:?} ago",
                now.saturating_duration_since(t)
            )),
            Some(t) => Err(why(format!(
                "last successful sync {:?} ago, more than two resync periods ({allowed:?})",
                now.saturating_duration_since(t)
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
