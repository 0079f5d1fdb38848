//! The resync loop (SPEC.md, "The loop"): read the config, keep the last good one, apply.
//!
//! Each round reads the config file. A valid config becomes current and is applied:
//! ensure the chain, ensure the POSTROUTING jump, restore IPv4, then IPv6 (an IPv4 failure
//! skips IPv6 for that round, as in the reference). An invalid config is logged and the
//! kernel is left untouched that round, so a flushed chain stays flushed until the config
//! is fixed (the reference's behaviour). Until the first good config nothing is written.

use crate::backend::{Backend, BackendError};
use crate::config::{self, format_go_duration, Config, ConfigError, ParseOptions, Parsed};
use crate::rules::{restore_payload, Family, PortRange, RuleOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// Default config path (a ConfigMap key mounted as a file).
pub const DEFAULT_CONFIG_PATH: &str = "/etc/config/ip-masq-agent";

/// The shortest interval between two rounds; see SPEC.md "Where this project deliberately
/// differs": the reference spins on `resyncInterval: 0`, we do not.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Files larger than this are rejected unread. The reference reads any size, but a config
/// path pointing at an endless source (`/dev/zero`) must not exhaust memory.
pub const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// Everything the flags decide.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_path: PathBuf,
    pub parse: ParseOptions,
    pub chain: String,
    /// `--random-fully` as requested; used only if iptables supports it.
    pub random_fully: bool,
    pub to_ports: Vec<PortRange>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            config_path: DEFAULT_CONFIG_PATH.into(),
            parse: ParseOptions::default(),
            chain: "IP-MASQ-AGENT".into(),
            random_fully: true,
            to_ports: Vec::new(),
        }
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config {path} is larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("invalid config {path}: {source}")]
    Invalid {
        path: PathBuf,
        #[source]
        source: ConfigError,
    },
}

/// Why a round did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}; keeping the previous config and leaving the rules untouched")]
    Load(#[from] LoadError),
    #[error("applying rules failed: {0}")]
    Apply(#[from] BackendError),
}

/// Where a config came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    File,
    /// The file does not exist: defaults.
    Absent,
}

/// Reads and parses the config file; an absent file means defaults.
pub fn load_config(path: &Path, opts: &ParseOptions) -> Result<(Parsed, Source), LoadError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((
                Parsed {
                    config: Config::defaults(opts),
                    warnings: Vec::new(),
                },
                Source::Absent,
            ))
        }
        Err(source) => {
            return Err(LoadError::Read {
                path: path.into(),
                source,
            })
        }
    };
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| LoadError::Read {
            path: path.into(),
            source,
        })?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(LoadError::TooLarge { path: path.into() });
    }
    let parsed = config::parse(&bytes, opts).map_err(|source| LoadError::Invalid {
        path: path.into(),
        source,
    })?;
    Ok((parsed, Source::File))
}

/// The payloads for a config: IPv4, then IPv6 when enabled.
pub fn payloads(config: &Config, settings: &Settings, random_fully: bool) -> Vec<(Family, String)> {
    let opts = RuleOptions {
        chain: settings.chain.clone(),
        random_fully,
        to_ports: settings.to_ports.clone(),
    };
    let mut out = vec![(Family::V4, restore_payload(config, Family::V4, &opts))];
    if settings.parse.enable_ipv6 {
        out.push((Family::V6, restore_payload(config, Family::V6, &opts)));
    }
    out
}

/// The agent's state between rounds.
pub struct Agent<B: Backend> {
    settings: Settings,
    backend: B,
    current: Option<Config>,
    random_fully: Option<bool>,
    last_warnings: Vec<String>,
    warned_interval: bool,
}

impl<B: Backend> Agent<B> {
    pub fn new(settings: Settings, backend: B) -> Self {
        Agent {
            settings,
            backend,
            current: None,
            random_fully: None,
            last_warnings: Vec::new(),
            warned_interval: false,
        }
    }

    /// One round: load, and apply if the config is good.
    pub fn sync(&mut self) -> Result<(), SyncError> {
        let (parsed, source) = load_config(&self.settings.config_path, &self.settings.parse)?;
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
        let random_fully = if self.settings.random_fully {
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
            false
        };
        let chain = self.settings.chain.clone();
        for (family, payload) in payloads(&config, &self.settings, random_fully) {
            self.backend.ensure_chain(family, &chain)?;
            self.backend.ensure_jump(family, &chain)?;
            self.backend.restore(family, &payload)?;
            tracing::debug!(?family, "restored:\n{payload}");
        }
        tracing::info!(
            "synced: {} nonMasqueradeCIDRs, masqLinkLocal={}, masqLinkLocalIPv6={}, chain {}{}",
            config.non_masquerade_cidrs.len(),
            config.masq_link_local,
            config.masq_link_local_ipv6,
            chain,
            if self.settings.parse.enable_ipv6 {
                " (IPv4 and IPv6)"
            } else {
                " (IPv4)"
            }
        );
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

    /// Runs rounds until `stop` receives a message (or its sender is dropped).
    pub fn run(&mut self, stop: &Receiver<()>) {
        loop {
            if let Err(e) = self.sync() {
                tracing::error!("{e}");
            }
            match stop.recv_timeout(self.interval()) {
                Err(RecvTimeoutError::Timeout) => continue,
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    }
}
