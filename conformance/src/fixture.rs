//! The fixture format: one YAML file per case, strict (unknown fields are errors).
//!
//! See `fixtures/README.md` for the prose; `fixtures/schema.json` is generated from these
//! types (`masq-conformance --print-schema`) so editors can check fixtures as you type.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use crate::configmap::Content;
use crate::probe::Proto;

/// One case.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Why the case exists, in a sentence. Shown in the snapshot header.
    pub description: String,
    /// Flags appended to the implementation's command (e.g. `--enable-ipv6`).
    #[serde(default)]
    pub flags: Vec<String>,
    /// The nat chain to inspect; defaults to `--masq-chain`'s value in `flags`, else
    /// `IP-MASQ-AGENT`.
    #[serde(default)]
    pub chain: Option<String>,
    /// Extra destinations placed in the world namespace, probed by name.
    #[serde(default)]
    pub destinations: Vec<Destination>,
    /// The resync interval a `wait: {resyncs: N}` step counts in, when no config step
    /// gave one (Go duration syntax, e.g. `300ms`).
    #[serde(default)]
    pub resync_interval: Option<String>,
    /// What happens, in order.
    pub steps: Vec<Step>,
}

/// An extra destination.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// A short name, used in `probe` steps and outcome tables.
    pub name: String,
    /// An IPv4 or IPv6 host address.
    #[schemars(with = "String")]
    pub address: IpAddr,
}

/// One step of a case. Each step is a single-key mapping.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// Publishes the config (ConfigMap-style `..data` swap). `null`: no file. A mapping:
    /// written as YAML. `{raw: "text"}`: these exact bytes. `{json: {...}}`: written as
    /// JSON. `{directory: true}`: a directory where the file should be.
    /// `{unreadable: true}`: a path that cannot be read. `{junk: N}`: N pseudo-random bytes.
    Config(#[schemars(with = "Option<serde_json::Value>")] serde_json::Value),
    /// Starts the implementation (done implicitly before the first step that is not
    /// `config`, if no `start` step is given).
    Start(#[schemars(with = "Option<serde_json::Value>")] Option<serde_json::Value>),
    /// Waits, bounded, for something observable.
    Wait(Wait),
    /// Sends probes from the pod and records the outcome table.
    Probe(ProbeSelection),
    /// Changes the node's nat table behind the implementation's back.
    Tamper(Tamper),
    /// Seeds the node's IPv4 nat table before the implementation starts (for example with
    /// rules an older release left behind). Each entry is one rule in `iptables-save`
    /// syntax without the table, run as `iptables -t nat <entry>`: `-N CHAIN`,
    /// `-A POSTROUTING -m comment --comment "..." -j CHAIN`; inside double quotes `\"` is
    /// a literal quote. Like `config`, it does not start the implementation implicitly.
    Preload(Vec<String>),
    /// Deletes every conntrack entry in the node, so the next flows are decided afresh.
    ConntrackFlush(#[schemars(with = "Option<serde_json::Value>")] Option<serde_json::Value>),
    /// Opens a long-lived UDP flow from the pod (one socket, reused by `flow-probe`).
    FlowOpen(FlowRef),
    /// Sends again on an open flow and records which source it arrived with.
    FlowProbe(FlowRef),
    /// Sends SIGTERM to the implementation and records whether it exited within 5 s.
    Terminate(#[schemars(with = "Option<serde_json::Value>")] Option<serde_json::Value>),
    /// Appends sections to the case's snapshot.
    Snapshot(SnapshotSelection),
    /// Injects (or clears) a fault around the implementation; see [`Fault`].
    Fault(Fault),
}

/// Faults the runner can inject. The implementation must keep the last good rules while
/// a fault lasts and converge once it ends.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// `iptables-restore` and `ip6tables-restore` exit 1 (a shim on the implementation's
    /// PATH and behind `/etc/alternatives` in its mount namespace).
    RestoreFailing,
    /// `iptables-restore` and `ip6tables-restore` do not exist.
    RestoreMissing,
    /// Another process holds the case's xtables lock (legacy iptables waits, then fails;
    /// iptables-nft takes no lock).
    LockHeld,
    /// Every fault ends: the real tools are back and the lock is released.
    Cleared,
    /// Publishes `bad` and `good` alternately, every `every`, for `for`, ending on `good`;
    /// samples the nat table after each swap and records whether it ever changed.
    Flap(Flap),
}

/// A config flapping between good and bad.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flap {
    /// A config (same forms as the `config` step) that is valid.
    #[schemars(with = "Option<serde_json::Value>")]
    pub good: serde_json::Value,
    /// A config that is not.
    #[schemars(with = "Option<serde_json::Value>")]
    pub bad: serde_json::Value,
    /// Time between swaps (Go duration, e.g. `5ms`).
    pub every: String,
    /// How long to flap (Go duration, at most 10s).
    #[serde(rename = "for")]
    pub duration: String,
}

/// What a `wait` step waits for.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Wait {
    /// The implementation's rules are in place (or, for an implementation without
    /// iptables rules, the outcomes are stable).
    #[serde(rename = "rules")]
    Rules,
    /// The nat table differs from what it was at the last `config`/`tamper` step.
    #[serde(rename = "rules-changed")]
    RulesChanged,
    /// `{resyncs: N}`: wait out N resync intervals. The one deliberate fixed wait: it
    /// shows that something does NOT change.
    #[serde(rename = "resyncs")]
    Resyncs(u32),
}

/// Which probes a `probe` step sends.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ProbeSelection {
    /// `default` (the standard destinations), `extra` (the fixture's own), or `all`.
    Named(ProbeSet),
    /// An explicit choice.
    Explicit {
        /// Destination names (standard or the fixture's own).
        destinations: Vec<String>,
        /// Protocols; all three when omitted.
        #[serde(default)]
        protocols: Option<Vec<Proto>>,
    },
}

/// Named probe sets.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeSet {
    Default,
    Extra,
    All,
}

/// Ways to damage the implementation's rules.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Tamper {
    /// `iptables -t nat -F <chain>`.
    FlushChain,
    /// `iptables -t nat -D POSTROUTING ... -j <chain>`, every copy.
    DeleteJump,
    /// Delete the jump, flush and delete the chain.
    DeleteChain,
}

/// A named long-lived flow.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowRef {
    /// The flow's name.
    pub name: String,
    /// Destination name (with `flow-open` only).
    #[serde(default)]
    pub destination: Option<String>,
}

/// Sections a `snapshot` step appends.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SnapshotSelection {
    One(SnapshotPart),
    Many(Vec<SnapshotPart>),
}

/// One snapshot section.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotPart {
    /// The last probe step's outcome table (normative for every implementation).
    Outcome,
    /// `iptables-save -t nat` (and ip6tables when IPv6 is enabled), normalised.
    Rules,
    /// `iptables -t nat -L <chain> -n -v -x`: packet counters show which rule each probe
    /// hit. Only stable while no resync happens between probe and listing: use it in
    /// cases with a long resync interval.
    Listing,
    /// `rules` and `listing`.
    Iptables,
    /// `outcome`, `rules` and `listing`.
    #[serde(rename = "outcome+iptables")]
    All,
}

impl SnapshotSelection {
    /// The parts, expanded.
    pub fn parts(&self) -> Vec<SnapshotPart> {
        let list = match self {
            SnapshotSelection::One(p) => vec![*p],
            SnapshotSelection::Many(v) => v.clone(),
        };
        let mut out = Vec::new();
        for p in list {
            match p {
                SnapshotPart::Iptables => out.extend([SnapshotPart::Rules, SnapshotPart::Listing]),
                SnapshotPart::All => out.extend([
                    SnapshotPart::Outcome,
                    SnapshotPart::Rules,
                    SnapshotPart::Listing,
                ]),
                p => out.push(p),
            }
        }
        out
    }
}

/// A fixture that failed to load.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The config content a `config` step publishes.
pub fn config_content(value: &serde_json::Value) -> Result<Content, String> {
    use serde_json::Value;
    if value.is_null() {
        return Ok(Content::Absent);
    }
    let Value::Object(map) = value else {
        return Err(format!("config: expected null or a mapping, got {value}"));
    };
    if map.len() == 1 {
        let (k, v) = map.iter().next().expect("one entry");
        match (k.as_str(), v) {
            ("raw", Value::String(s)) => return Ok(Content::Bytes(s.clone().into_bytes())),
            ("json", v) => {
                return Ok(Content::Bytes(
                    serde_json::to_vec_pretty(v).map_err(|e| e.to_string())?,
                ))
            }
            ("directory", Value::Bool(true)) => return Ok(Content::Directory),
            ("unreadable", Value::Bool(true)) => return Ok(Content::Unreadable),
            ("junk", Value::Number(n)) => {
                let len = n.as_u64().ok_or("config: junk: expected a byte count")? as usize;
                return Ok(Content::Bytes(junk(len)));
            }
            _ => {}
        }
    }
    serde_saphyr::to_string(value)
        .map(|s| Content::Bytes(s.into_bytes()))
        .map_err(|e| format!("config: cannot render as YAML: {e}"))
}

/// Deterministic non-UTF-8 bytes (xorshift), so the snapshot is the same every run.
fn junk(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8 | 0x80
        })
        .collect()
}

impl Fixture {
    /// Loads and checks one fixture file.
    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Read {
            path: path.into(),
            source,
        })?;
        let invalid = |message: String| FixtureError::Invalid {
            path: path.into(),
            message,
        };
        let fixture: Fixture = serde_saphyr::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        for step in &fixture.steps {
            if let Step::Config(v) = step {
                config_content(v).map_err(invalid)?;
            }
        }
        for d in &fixture.destinations {
            if crate::topology::reserved(d.address) {
                return Err(invalid(format!(
                    "destinations: {} ({}) collides with the sandbox's own addressing",
                    d.name, d.address
                )));
            }
        }
        Ok(fixture)
    }

    /// The chain the implementation is expected to manage.
    pub fn chain(&self) -> String {
        if let Some(c) = &self.chain {
            return c.clone();
        }
        flag_value(&self.flags, "masq-chain").unwrap_or_else(|| "IP-MASQ-AGENT".into())
    }

    /// Whether the fixture enables IPv6 in the implementation.
    pub fn ipv6(&self) -> bool {
        flag_value(&self.flags, "enable-ipv6")
            .map(|v| v.is_empty() || v == "true" || v == "1")
            .unwrap_or(false)
    }
}

/// The value of `--name=value`, `--name value` or (bool) `--name` in `flags`.
pub fn flag_value(flags: &[String], name: &str) -> Option<String> {
    let mut found = None;
    let mut iter = flags.iter().peekable();
    while let Some(f) = iter.next() {
        let bare = f.trim_start_matches('-');
        if let Some(v) = bare.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            found = Some(v.to_string());
        } else if bare == name {
            found = match iter.peek() {
                Some(next) if !next.starts_with('-') => iter.next().cloned(),
                _ => Some(String::new()),
            };
        }
    }
    found
}

/// The JSON Schema of the fixture format.
pub fn schema() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(Fixture)).expect("schema serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_read_in_every_form() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            flag_value(&f(&["--masq-chain=X"]), "masq-chain").as_deref(),
            Some("X")
        );
        assert_eq!(
            flag_value(&f(&["--masq-chain", "Y"]), "masq-chain").as_deref(),
            Some("Y")
        );
        assert_eq!(
            flag_value(&f(&["--enable-ipv6"]), "enable-ipv6").as_deref(),
            Some("")
        );
        assert_eq!(flag_value(&f(&["--v=2"]), "masq-chain"), None);
    }

    #[test]
    fn config_forms() {
        let v: serde_json::Value = serde_json::json!({"raw": "a: b"});
        assert_eq!(
            config_content(&v).unwrap(),
            Content::Bytes(b"a: b".to_vec())
        );
        assert_eq!(
            config_content(&serde_json::Value::Null).unwrap(),
            Content::Absent
        );
        let m = serde_json::json!({"masqLinkLocal": true});
        let Content::Bytes(b) = config_content(&m).unwrap() else {
            panic!()
        };
        assert!(String::from_utf8(b)
            .unwrap()
            .contains("masqLinkLocal: true"));
        assert!(config_content(&serde_json::json!([1])).is_err());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_saphyr::from_str::<Fixture>("description: x\nstepz: []\n").unwrap_err();
        assert!(err.to_string().contains("stepz"), "{err}");
    }
}
