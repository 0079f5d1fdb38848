//! Implementation profiles: the whole contract between the suite and an implementation
//! (after toml-test): an argv, where it reads its config, how to tell it is ready, and
//! which cases it is known to fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::confinement::CapabilitySet;
use crate::document::waivers::Waiver;
use crate::go_duration::GoDuration;
use crate::limits::{LimitSettings, LimitsKey};
use crate::vocabulary::IptablesBackend;
use crate::vocabulary::{Feature, Level};

pub use crate::listing_kind::{ListingKind, NftablesSettings};
pub use known::{CellSelector, ExpectedFailure, ExpectedFailureEntry, UnstableEntry, MAX_REPEATS};

pub mod known;
pub mod source;

pub use source::{Adapter, ConfigKey, ConfigSourceKey, ConfigValues, Ipv6Mode, Rendered};

/// Errors loading a profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("reading profile {path}: {source}")]
    Read {
        path: PathBuf,
        source: crate::bounded_file::BoundedReadError,
    },
    #[error("profile {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// How the runner knows an implementation is ready after start and after a change.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Readiness {
    /// Its rules appear in the nat table (chain with a MASQUERADE rule, POSTROUTING jump).
    #[default]
    Iptables,
    /// It keeps no iptables rules (eBPF, nftables-native): wait until probe outcomes stop
    /// changing between two rounds.
    Outcomes,
}

/// Whether rule listings in snapshots bind this implementation.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RuleListings {
    /// `iptables-save` and `iptables -L` must match the snapshot, like outcomes.
    #[default]
    Normative,
    /// Only outcomes are compared; the listings are shown but not asserted.
    Waived,
}

/// Which config files an implementation reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum ConfigFiles {
    /// Only `config_path`, as the reference does.
    #[default]
    One,
    /// Several files of `config_path`'s directory, merged: their names, in the order
    /// fixtures fill them. Cases with several files run only against such a profile.
    Merge(Vec<String>),
}

/// The features a profile claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureClaims {
    /// Claimed explicitly (optional: every feature not listed as unsupported is claimed).
    #[serde(default)]
    pub supported: Vec<Feature>,
    /// Not implemented: cases that need one of these are reported as unsupported and not
    /// run. Core features cannot be listed.
    #[serde(default)]
    pub unsupported: Vec<Feature>,
}

/// One implementation under test (`conformance/implementations/*.yaml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Shown in reports.
    pub name: String,
    /// The version tested: a tag (`v1.2.3`) or a commit, never a branch (reports cite it).
    #[serde(default)]
    pub version: Option<String>,
    /// Where the implementation lives.
    #[serde(default)]
    pub url: Option<String>,
    /// Who answers for it.
    #[serde(default)]
    pub contact: Option<String>,
    /// Which features it implements.
    #[serde(default)]
    pub features: FeatureClaims,
    /// argv, no shell. `${VAR}` is replaced by the environment variable VAR (an unset one
    /// is an error naming it); `${VAR:-default}` falls back to `default` when VAR is unset
    /// or empty. Relative paths are relative to the working directory.
    pub command: Vec<String>,
    /// Where the implementation reads its config.
    #[serde(default = "default_config_path")]
    pub config_path: PathBuf,
    /// Cases (`fixture` or `fixture::backend`) this implementation is known to fail, each
    /// `{case, reason, link}` (a bare name is accepted, without a reason).
    /// An entry may pin the failure to a `step`, `cells` or a `message`; a failure it
    /// does not cover is a new failure.
    #[serde(default)]
    pub expected_failures: Vec<ExpectedFailureEntry>,
    /// Cases (`fixture` or `fixture::backend`) whose result varies from run to run, each
    /// `{case, reason, link}`: reported `unstable`, never passed, never failing the run.
    #[serde(default)]
    pub unstable: Vec<UnstableEntry>,
    /// How many times each case runs (1 to [`MAX_REPEATS`]; `--repeat` overrides): a
    /// case whose repeats disagree is unstable.
    #[serde(default)]
    pub repeats: Option<u32>,
    /// `iptables` (default), `nftables` or `none`: which rules it keeps.
    #[serde(default)]
    pub listings: ListingKind,
    /// With `listings: nftables`: which table is the implementation's.
    #[serde(default)]
    pub nftables: Option<NftablesSettings>,
    #[serde(default)]
    pub readiness: Readiness,
    #[serde(default)]
    pub rule_listings: RuleListings,
    /// Aspects of the listings that do not bind this implementation, each with a reason;
    /// the rest of the listings stays normative.
    #[serde(default)]
    pub listing_waivers: Vec<Waiver>,
    /// `one` (default) or `{merge: [names...]}`.
    #[serde(default)]
    pub config_files: ConfigFiles,
    /// Extra environment for the process.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How often the implementation re-reads its config when that is not the config's
    /// `resyncInterval` (for example a `--resync-interval 1s` flag of its own). Used for
    /// the bounds of waits, `unobservable-resyncs`, and reports.
    #[serde(default)]
    pub resync_period: Option<GoDuration>,
    /// How long after reading a config the implementation needs, at most, to have acted
    /// on it (written its rules): `wait: {reads: N}` gives it this long after the N-th
    /// read (whether or not it reads again meanwhile), a case ending on a bad config
    /// ends this long after its last read of it, and `reload-latency` allows a
    /// resyncInterval plus this. Default 1s.
    #[serde(default)]
    pub act_within: Option<GoDuration>,
    /// Capabilities granted beyond NET_ADMIN and NET_RAW (what the reference's
    /// DaemonSet grants), e.g. `[BPF, PERFMON]`; reports name the whole set.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The suite version (CHANGELOG.md) the profile was written for: when a case it lists
    /// as a known failure passes, the corpus changes since then are quoted.
    #[serde(default)]
    pub suite_version: Option<String>,
    /// `{pids, memory, output}`: the case's limits, overriding the defaults
    /// ([`crate::limits::LimitSettings::DEFAULT`]).
    #[serde(default)]
    pub limits: Option<LimitsKey>,
    /// `file` (default: the ConfigMap volume at `config_path`) or `{adapter: {flags,
    /// env}}`: each config rendered into flags and environment, and the implementation
    /// restarted with them ([`source`]).
    #[serde(default)]
    pub config_source: ConfigSourceKey,
    /// `flag` (default: `--enable-ipv6`), `always` or `never`.
    #[serde(default)]
    pub ipv6: Ipv6Mode,
    /// The list the implementation uses when the config leaves `nonMasqueradeCIDRs` out,
    /// when not the reference's: cases whose outcomes rest on the reference's list do not
    /// apply.
    #[serde(default)]
    pub default_non_masquerade_cidrs: Option<Vec<String>>,
    /// The nat chain the implementation keeps when no `--masq-chain` flag names one
    /// (default `IP-MASQ-AGENT`): readiness, listings and tampering use it.
    #[serde(default)]
    pub chain: Option<String>,
}

/// The default of `act_within`: a round of an iptables-based agent takes tens of
/// milliseconds; a second leaves room for a loaded CI machine.
pub const DEFAULT_ACT_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

fn default_config_path() -> PathBuf {
    PathBuf::from("/etc/config/ip-masq-agent")
}

impl Profile {
    /// A profile with every optional field at its default.
    pub fn new(name: impl Into<String>, command: Vec<String>) -> Self {
        Profile {
            name: name.into(),
            version: None,
            url: None,
            contact: None,
            features: FeatureClaims::default(),
            command,
            config_path: default_config_path(),
            expected_failures: Vec::new(),
            unstable: Vec::new(),
            repeats: None,
            listings: ListingKind::default(),
            nftables: None,
            readiness: Readiness::default(),
            rule_listings: RuleListings::default(),
            listing_waivers: Vec::new(),
            config_files: ConfigFiles::One,
            env: BTreeMap::new(),
            resync_period: None,
            act_within: None,
            capabilities: Vec::new(),
            limits: None,
            suite_version: None,
            config_source: ConfigSourceKey::File,
            ipv6: Ipv6Mode::Flag,
            default_non_masquerade_cidrs: None,
            chain: None,
        }
    }

    /// Loads and checks a profile file.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = crate::bounded_file::read_to_string(path, crate::bounded_file::MAX_INPUT_BYTES)
            .map_err(|source| ProfileError::Read {
                path: path.into(),
                source,
            })?;
        Profile::from_text(path, &text)
    }

    /// Checks a profile's text, read from `path` (named in errors): the suite reads the
    /// file once, and hashes and parses the same bytes.
    pub fn from_text(path: &Path, text: &str) -> Result<Self, ProfileError> {
        let invalid = |message: String| ProfileError::Invalid {
            path: path.into(),
            message,
        };
        let profile: Profile = serde_saphyr::from_str(text).map_err(|e| invalid(e.to_string()))?;
        crate::vocabulary::identifiers::check_implementation_name(&profile.name)
            .map_err(|e| invalid(format!("name: {e}")))?;
        if profile.command.is_empty() {
            return Err(invalid("command: must name a program".into()));
        }
        crate::confinement::check_config_path(&profile.config_path).map_err(&invalid)?;
        CapabilitySet::with_extra(&profile.capabilities).map_err(|e| invalid(e.to_string()))?;
        profile.argv().map_err(invalid)?;
        profile.check_listings().map_err(invalid)?;
        profile.check_features().map_err(invalid)?;
        if let Some(key) = &profile.limits {
            key.settings()
                .map_err(|e| invalid(format!("limits: {e}")))?;
        }
        let todo: Vec<&str> = profile
            .expected_failures
            .iter()
            .filter_map(|e| match e {
                ExpectedFailureEntry::Full(f) if f.reason.trim() == "TODO" => Some(f.case.as_str()),
                _ => None,
            })
            .collect();
        if !todo.is_empty() {
            eprintln!(
                "warning: {}: expected_failures with reason TODO (say why each fails): {todo:?}",
                path.display()
            );
        }
        if let Some(v) = &profile.suite_version {
            crate::vocabulary::identifiers::check_suite_version(v)
                .map_err(|e| invalid(format!("suite_version: {e}")))?;
        }
        if let Some(v) = &profile.version {
            crate::vocabulary::identifiers::check_implementation_version(v)
                .map_err(|e| invalid(format!("version: {e}")))?;
        }
        if let ConfigFiles::Merge(names) = &profile.config_files {
            if names.len() < 2 {
                return Err(invalid(
                    "config_files: merge: name two files or more".into(),
                ));
            }
            if let Some(bad) = names
                .iter()
                .find(|n| n.is_empty() || n.contains('/') || n.starts_with(".."))
            {
                return Err(invalid(format!(
                    "config_files: merge: {bad:?} is not a file name in config_path's directory"
                )));
            }
        }
        known::check(
            &profile.expected_failures,
            &profile.unstable,
            profile.repeats,
        )
        .map_err(&invalid)?;
        if let Some(w) = profile
            .listing_waivers
            .iter()
            .find(|w| w.reason.trim().is_empty())
        {
            return Err(invalid(format!(
                "listing_waivers: {:?}: reason must say why the aspect does not bind",
                w.aspect
            )));
        }
        profile.check_shape().map_err(&invalid)?;
        for (key, value) in [
            ("resync_period", &profile.resync_period),
            ("act_within", &profile.act_within),
        ] {
            if let Some(d) = value {
                if d.get() > crate::poll::MAX_WAIT {
                    return Err(invalid(format!(
                        "{key}: {d} exceeds the suite's cap on any wait ({:?}); test with a shorter period",
                        crate::poll::MAX_WAIT
                    )));
                }
            }
        }
        Ok(profile)
    }

    /// The capabilities the implementation runs with.
    pub fn granted_capabilities(&self) -> CapabilitySet {
        CapabilitySet::with_extra(&self.capabilities).unwrap_or(CapabilitySet::DEFAULT)
    }

    /// The case's limits: the defaults, overridden by the `limits` key (checked at load;
    /// a profile built in code with bad values gets the defaults).
    pub fn limits(&self) -> LimitSettings {
        self.limits
            .as_ref()
            .and_then(|k| k.settings().ok())
            .unwrap_or_default()
    }

    /// The command with `${VAR}` references expanded.
    pub fn argv(&self) -> Result<Vec<String>, String> {
        self.command.iter().map(|a| expand_env(a)).collect()
    }

    fn check_listings(&self) -> Result<(), String> {
        crate::listing_kind::check(self.listings, self.nftables.as_ref(), &self.name)
    }

    /// The implementation's nftables table, when the profile names one.
    pub fn nft_table(&self) -> Option<crate::nftables::Table> {
        let text = self.nftables.as_ref()?.table.as_deref()?;
        crate::nftables::Table::parse(text).ok()
    }

    /// Whether readiness goes by outcomes: asked for, or nothing else to look at.
    pub fn outcome_readiness(&self) -> bool {
        self.readiness == Readiness::Outcomes || self.listings == ListingKind::None
    }

    /// Whether the iptables sections of the normative snapshots bind this profile.
    pub fn iptables_listings_bind(&self) -> bool {
        self.listings == ListingKind::Iptables
            && self.rule_listings == RuleListings::Normative
            && self.supports(Feature::IptablesListings)
    }

    fn check_features(&self) -> Result<(), String> {
        let claims = &self.features;
        if let Some(core) = claims.unsupported.iter().find(|f| f.level() == Level::Core) {
            return Err(format!(
                "features: unsupported: {core} is a core feature (every implementation must have it; record its failing cases in expected_failures instead)"
            ));
        }
        if let Some(both) = claims
            .supported
            .iter()
            .find(|f| claims.unsupported.contains(f))
        {
            return Err(format!(
                "features: {both} is listed as both supported and unsupported"
            ));
        }
        Ok(())
    }

    /// Whether the profile claims `feature`.
    pub fn supports(&self, feature: Feature) -> bool {
        let claims = &self.features;
        if claims.unsupported.contains(&feature) {
            return false;
        }
        if feature == Feature::MultiFile && self.config_files == ConfigFiles::One {
            return false; // it reads one file: `config_files` says so
        }
        if feature == Feature::Ipv6 && self.ipv6 == Ipv6Mode::Never {
            return false; // `ipv6: never` says so
        }
        claims.supported.is_empty()
            || claims.supported.contains(&feature)
            || feature.level() == Level::Core
    }

    /// The first feature of `features` the profile does not claim.
    pub fn first_unsupported(&self, features: &[Feature]) -> Option<Feature> {
        features.iter().copied().find(|f| !self.supports(*f))
    }

    /// The file names a config of `count` files is published under, or why it cannot be.
    pub fn file_names(&self, count: usize) -> Result<Vec<String>, String> {
        let key = self
            .config_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match &self.config_files {
            _ if count <= 1 => Ok(vec![key]),
            ConfigFiles::One => Err(format!(
                "the case publishes {count} config files; {} reads one (config_files: one)",
                self.name
            )),
            ConfigFiles::Merge(names) if names.len() < count => Err(format!(
                "the case publishes {count} config files; {} names {} in config_files",
                self.name,
                names.len()
            )),
            ConfigFiles::Merge(names) => Ok(names[..count].to_vec()),
        }
    }

    /// How long the implementation gets to act on a config it has read.
    pub fn act_within(&self) -> std::time::Duration {
        self.act_within
            .as_ref()
            .map(|d| d.get())
            .unwrap_or(DEFAULT_ACT_WITHIN)
    }

    /// The expected-failure entries naming `fixture` on `backend` (each may cover only
    /// part of a failure: [`ExpectedFailureEntry::covers`]).
    pub fn expected_failures_of(
        &self,
        fixture: &str,
        backend: IptablesBackend,
    ) -> Vec<&ExpectedFailureEntry> {
        self.expected_failures
            .iter()
            .filter(|f| known::names(f.case(), fixture, backend))
            .collect()
    }

    /// The `unstable` entry naming `fixture` on `backend`, if any.
    pub fn unstable_entry(
        &self,
        fixture: &str,
        backend: IptablesBackend,
    ) -> Option<&UnstableEntry> {
        self.unstable
            .iter()
            .find(|u| known::names(&u.case, fixture, backend))
    }

    /// The entries of `expected_failures` and `unstable` that name no case of `fixtures`
    /// on any backend: the ratchet must be exact, so each is an error.
    pub fn unmatched_entries<'a>(&'a self, fixtures: &[&str]) -> Vec<&'a str> {
        let matches = |case: &str| {
            fixtures.iter().any(|name| {
                IptablesBackend::ALL
                    .iter()
                    .any(|b| known::names(case, name, *b))
            })
        };
        self.expected_failures
            .iter()
            .map(|f| f.case())
            .chain(self.unstable.iter().map(|u| u.case.as_str()))
            .filter(|case| !matches(case))
            .collect()
    }
}

/// Replaces `${VAR}` with the variable's value.
fn expand_env(arg: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("command: unterminated ${{ in {arg:?}"))?;
        let (var, default) = match after[..end].split_once(":-") {
            Some((var, default)) => (var, Some(default)),
            None => (&after[..end], None),
        };
        let value = match (std::env::var(var), default) {
            (Ok(v), _) if !v.is_empty() => v,
            (_, Some(default)) => default.to_string(),
            (Ok(v), None) => v,
            (Err(_), None) => {
                return Err(format!(
                "command: {arg:?} uses ${{{var}}}, but the environment variable {var} is not set"
            ))
            }
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests;
