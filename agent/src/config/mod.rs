//! Config file bytes → [`Config`]: parsing, defaults, validation. Pure: no I/O.
//!
//! The reference (Go) reads a file whose first non-blank byte is `{` as JSON and anything
//! else as YAML, which it converts to JSON and decodes with `encoding/json` into a struct
//! pre-filled with defaults. That pipeline has observable quirks that a drop-in replacement
//! must keep (docs/spec.md §2): key names match case-insensitively, unknown keys
//! are ignored, the last duplicate wins, YAML 1.1 booleans, a quoted `"true"` is a string,
//! `null` leaves a scalar at its default but empties a list. Both front ends therefore
//! produce the same untyped [`Node`] tree and one mapping step applies those rules.
//!
//! Modules: `yaml` (the YAML front end on libyaml's events), `json`, `node` (the tree),
//! `gostd` (Go's standard library where the reference leans on it: CIDRs, durations).

pub use gostd::{clip, format_go_duration, parse_go_cidr, parse_go_duration, MAX_ECHO_CHARS};
use gostd::{lone_surrogates_replaced, looks_like_json};
use ipnet::IpNet;
use json::parse_json;
use node::{Node, MAX_NODES};
use std::fmt;
use yaml::{parse_yaml, YamlError};

mod gostd;
mod json;
mod node;
mod yaml;

/// The ranges not masqueraded by default.
pub const DEFAULT_NON_MASQ_CIDRS: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// The default list under `--nomasq-all-reserved-ranges`: every IPv4 range reserved by RFCs.
pub const RESERVED_NON_MASQ_CIDRS: [&str; 11] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
];

/// Default `cidrLimit`.
pub const DEFAULT_CIDR_LIMIT: i64 = 64;

/// Default `resyncInterval` (60 s), in nanoseconds.
pub const DEFAULT_RESYNC_NANOS: i64 = 60_000_000_000;

/// Flags that change how a config is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// `--nomasq-all-reserved-ranges`: the default list is [`RESERVED_NON_MASQ_CIDRS`].
    pub nomasq_all_reserved_ranges: bool,
    /// `--enable-ipv6`: IPv6 entries are allowed.
    pub enable_ipv6: bool,
}

/// One validated `nonMasqueradeCIDRs` entry. Rules are written from the parsed network,
/// not the text: the reference passes its configured string to iptables verbatim, which
/// reads `010.0.0.0` as octal and rejects `/08`; ours installs exactly what it validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    /// As written in the config (for messages and comparisons with the reference).
    pub text: String,
    /// The network it denotes, in the family the reference puts it in (an IPv4-mapped
    /// IPv6 CIDR is IPv4).
    pub net: IpNet,
}

/// A valid configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Destinations that keep the pod's source address, in order (duplicates kept).
    pub non_masquerade_cidrs: Vec<Cidr>,
    /// The most entries `non_masquerade_cidrs` may have.
    pub cidr_limit: i64,
    /// Masquerade 169.254.0.0/16 too (no link-local RETURN rule).
    pub masq_link_local: bool,
    /// Masquerade fe80::/10 too (IPv6 chain).
    pub masq_link_local_ipv6: bool,
    /// Go `time.Duration` in nanoseconds; may be zero or negative (the daemon clamps it).
    pub resync_interval_nanos: i64,
}

impl Config {
    /// The configuration used when the file is absent or empty.
    pub fn defaults(opts: &ParseOptions) -> Config {
        let list: &[&str] = if opts.nomasq_all_reserved_ranges {
            &RESERVED_NON_MASQ_CIDRS
        } else {
            &DEFAULT_NON_MASQ_CIDRS
        };
        Config {
            non_masquerade_cidrs: list
                .iter()
                .map(|s| Cidr {
                    text: (*s).to_string(),
                    net: s.parse().expect("built-in CIDR"),
                })
                .collect(),
            cidr_limit: DEFAULT_CIDR_LIMIT,
            masq_link_local: false,
            masq_link_local_ipv6: false,
            resync_interval_nanos: DEFAULT_RESYNC_NANOS,
        }
    }
}

/// A parsed config plus remarks worth logging (unknown keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub config: Config,
    /// E.g. `unknown key "foo" ignored`.
    pub warnings: Vec<String>,
}

/// Why a config was rejected. Every message names the key and the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("config is not valid UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("YAML syntax error at line {line}, column {column}: {message}")]
    Yaml {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("JSON syntax error at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config must be a mapping of keys to values, found {found}")]
    NotAMapping { found: String },
    #[error("{key}: {value} is {found}, expected {expected}")]
    WrongType {
        key: String,
        value: String,
        found: &'static str,
        expected: &'static str,
    },
    #[error("resyncInterval: {value} is not a duration string (use e.g. \"30s\")")]
    DurationNotString { value: String },
    #[error("resyncInterval: {value:?} is not a valid duration: {reason} (use e.g. \"30s\", \"1m30s\", \"500ms\")")]
    BadDuration { value: String, reason: String },
    #[error("nonMasqueradeCIDRs[{index}]: {value:?} is not a valid CIDR: {reason}")]
    InvalidCidr {
        index: usize,
        value: String,
        reason: String,
    },
    #[error("nonMasqueradeCIDRs[{index}]: {value:?} is not a network address (did you mean {suggestion}?)")]
    NotNetworkAddress {
        index: usize,
        value: String,
        suggestion: String,
    },
    #[error("nonMasqueradeCIDRs[{index}]: {value:?} is an IPv6 CIDR but IPv6 is not enabled (--enable-ipv6)")]
    Ipv6NotEnabled { index: usize, value: String },
    #[error("cidrLimit: {count} entries in nonMasqueradeCIDRs exceed cidrLimit {limit}")]
    TooManyCidrs { count: usize, limit: i64 },
}

/// The most unknown-key warnings listed one by one (the rest are counted).
const MAX_WARNINGS: usize = 10;

/// The keys the config understands, in canonical spelling.
const KEYS: [&str; 5] = [
    "nonMasqueradeCIDRs",
    "cidrLimit",
    "masqLinkLocal",
    "masqLinkLocalIPv6",
    "resyncInterval",
];

/// Parses and validates a config file's bytes.
///
/// Empty input (or only whitespace, comments, or `null`) yields the defaults.
pub fn parse(bytes: &[u8], opts: &ParseOptions) -> Result<Parsed, ConfigError> {
    let root = if looks_like_json(bytes) {
        // Every JSON value but the first follows a `,` or opens with `[`/`{`: a bound on
        // the values (and so on the memory) before anything is built.
        let bound = bytes
            .iter()
            .filter(|b| matches!(b, b',' | b'[' | b'{'))
            .count();
        if bound > MAX_NODES {
            return Err(ConfigError::Json {
                line: 1,
                column: 1,
                message: format!("document has more than {} values", MAX_NODES),
            });
        }
        // Go's decoder reads invalid UTF-8 inside strings as U+FFFD (outside strings it is
        // a syntax error either way); serde_json would refuse the whole document.
        let lossy = String::from_utf8_lossy(bytes);
        let text = lone_surrogates_replaced(&lossy);
        parse_json(text.as_bytes()).map_err(|e| ConfigError::Json {
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?
    } else {
        parse_yaml(bytes).map_err(|e| match e {
            YamlError::Encoding { offset, .. } => ConfigError::NotUtf8 { offset },
            YamlError::Control { line, column, ch } => ConfigError::Yaml {
                line,
                column,
                message: format!("control character {ch:?} is not allowed"),
            },
            YamlError::Syntax {
                line,
                column,
                message,
            } => ConfigError::Yaml {
                line,
                column,
                message,
            },
        })?
    };
    from_tree(root, opts)
}

/// serde_json appends " at line L column C"; we print the position ourselves.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn from_tree(root: Node, opts: &ParseOptions) -> Result<Parsed, ConfigError> {
    let mut config = Config::defaults(opts);
    let mut warnings = Vec::new();
    let entries = match root {
        Node::Null => Vec::new(),
        Node::Map(entries) => entries,
        other => {
            return Err(ConfigError::NotAMapping {
                found: other.kind().to_string(),
            })
        }
    };
    // The raw list is validated after all keys are read: a later `cidrLimit` or an
    // earlier duplicate must not change the outcome.
    let mut raw_cidrs: Option<Vec<String>> = None;
    let mut backing: Vec<String> = config
        .non_masquerade_cidrs
        .iter()
        .map(|c| c.text.clone())
        .collect();
    let mut ignored_beyond = 0usize;
    for (key, value) in entries {
        let Some(canonical) = KEYS.iter().find(|k| json_key_matches(k, &key)) else {
            if warnings.len() < MAX_WARNINGS {
                warnings.push(format!("unknown key {:?} ignored", clip(&key)));
            } else {
                ignored_beyond += 1;
            }
            continue;
        };
        match *canonical {
            "nonMasqueradeCIDRs" => raw_cidrs = Some(cidr_list(value, &mut backing)?),
            "cidrLimit" => match value {
                Node::Null => {}
                Node::Int(i) => config.cidr_limit = i,
                other => return Err(wrong_type("cidrLimit", &other, "an integer")),
            },
            "masqLinkLocal" => set_bool("masqLinkLocal", value, &mut config.masq_link_local)?,
            "masqLinkLocalIPv6" => {
                set_bool("masqLinkLocalIPv6", value, &mut config.masq_link_local_ipv6)?
            }
            "resyncInterval" => {
                config.resync_interval_nanos = match value {
                    Node::Str(s) => {
                        parse_go_duration(&s).map_err(|reason| ConfigError::BadDuration {
                            value: clip(&s),
                            reason,
                        })?
                    }
                    // Go's Duration.UnmarshalJSON decodes null into "" and rejects it.
                    Node::Null => {
                        return Err(ConfigError::BadDuration {
                            value: String::new(),
                            reason: "empty".into(),
                        })
                    }
                    other => {
                        return Err(ConfigError::DurationNotString {
                            value: other.brief(),
                        })
                    }
                }
            }
            _ => unreachable!("every entry of KEYS is handled"),
        }
    }
    if ignored_beyond > 0 {
        warnings.push(format!("{ignored_beyond} more unknown keys ignored"));
    }
    if let Some(list) = raw_cidrs {
        config.non_masquerade_cidrs = validate_cidrs(list, opts)?;
    }
    if config.non_masquerade_cidrs.len() as i128 > config.cidr_limit as i128 {
        return Err(ConfigError::TooManyCidrs {
            count: config.non_masquerade_cidrs.len(),
            limit: config.cidr_limit,
        });
    }
    Ok(Parsed { config, warnings })
}

fn wrong_type(key: &str, value: &Node, expected: &'static str) -> ConfigError {
    ConfigError::WrongType {
        key: key.to_string(),
        value: value.brief(),
        found: value.kind(),
        expected,
    }
}

fn set_bool(key: &str, value: Node, slot: &mut bool) -> Result<(), ConfigError> {
    match value {
        Node::Null => Ok(()),
        Node::Bool(b) => {
            *slot = b;
            Ok(())
        }
        other => Err(wrong_type(
            key,
            &other,
            "a boolean (true or false, unquoted)",
        )),
    }
}

/// Decodes a `nonMasqueradeCIDRs` value the way Go's `encoding/json` decodes into the
/// reference's `[]string`, which reuses the slice it already holds: `null` (the whole
/// list) empties it, `[]` too; an element `null` leaves whatever that slot of the backing
/// array held (the default list's entry at that index, or `""` past its capacity, which
/// is then an invalid CIDR). `backing` is that array, updated for a later duplicate key.
fn cidr_list(value: Node, backing: &mut Vec<String>) -> Result<Vec<String>, ConfigError> {
    let items = match value {
        Node::Null => Vec::new(),
        Node::Seq(items) => items,
        other => {
            return Err(wrong_type(
                "nonMasqueradeCIDRs",
                &other,
                "a list of CIDR strings",
            ))
        }
    };
    let mut list = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let slot = backing.get(i).cloned().unwrap_or_default();
        list.push(match item {
            Node::Str(s) => s,
            Node::Null => slot,
            other => {
                return Err(wrong_type(
                    &format!("nonMasqueradeCIDRs[{i}]"),
                    &other,
                    "a CIDR string",
                ))
            }
        });
    }
    if list.is_empty() || list.len() > backing.len() {
        // A new backing array: nothing of the old one survives.
        *backing = list.clone();
    } else {
        backing[..list.len()].clone_from_slice(&list);
    }
    Ok(list)
}

/// Go's `encoding/json` field-name match: exact, else case-insensitive with Unicode
/// simple folding, under which `K` (Kelvin sign) is `k` and `ſ` (long s) is `s`.
fn json_key_matches(canonical: &str, key: &str) -> bool {
    let folded: String = key
        .chars()
        .map(|c| match c {
            '\u{212a}' => 'k',
            '\u{17f}' => 's',
            c => c,
        })
        .collect();
    canonical.eq_ignore_ascii_case(&folded)
}

fn validate_cidrs(list: Vec<String>, opts: &ParseOptions) -> Result<Vec<Cidr>, ConfigError> {
    let mut out = Vec::with_capacity(list.len());
    for (index, text) in list.into_iter().enumerate() {
        let (ip, net) = match parse_go_cidr(&text) {
            Ok(n) => n,
            Err(reason) => {
                return Err(ConfigError::InvalidCidr {
                    index,
                    value: clip(&text),
                    reason,
                })
            }
        };
        // Go's alignment test compares the address as written with the masked network
        // (for a mapped address, in its 16-byte form: any bit outside the mask fails).
        let aligned = match (ip, net) {
            (std::net::IpAddr::V6(a), IpNet::V4(n)) => a.to_ipv4_mapped() == Some(n.network()),
            _ => net.addr() == net.network(),
        };
        if !aligned {
            return Err(ConfigError::NotNetworkAddress {
                index,
                suggestion: net.trunc().to_string(),
                value: clip(&text),
            });
        }
        if matches!(net, IpNet::V6(_)) && !opts.enable_ipv6 {
            return Err(ConfigError::Ipv6NotEnabled {
                index,
                value: clip(&text),
            });
        }
        out.push(Cidr { text, net });
    }
    Ok(out)
}

impl fmt::Display for Config {
    /// A one-line summary for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} nonMasqueradeCIDRs, masqLinkLocal={}, masqLinkLocalIPv6={}, resyncInterval={}",
            self.non_masquerade_cidrs.len(),
            self.masq_link_local,
            self.masq_link_local_ipv6,
            format_go_duration(self.resync_interval_nanos)
        )
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod reference_tests;
