//! One verdict shape for both parsers, and the comparison. Shared by the differential
//! test and the cargo-fuzz target `differential` (included by path there).

use ip_masq_agent::config::{self, ParseOptions};
use ipnet::IpNet;

/// What the oracle prints (tools/reference-parse), and what we compute the same way.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub ok: bool,
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(rename = "nonMasqueradeCIDRs")]
    pub non_masquerade_cidrs: Option<Vec<String>>,
    pub networks: Option<Vec<Network>>,
    pub cidr_limit: i64,
    pub masq_link_local: bool,
    #[serde(rename = "masqLinkLocalIPv6")]
    pub masq_link_local_ipv6: bool,
    pub resync_interval_nanos: i64,
}

/// One accepted CIDR: the family its rule goes to, and the network in that family.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Network {
    pub family: u8,
    pub net: String,
}

/// Our parser's verdict in the oracle's shape.
pub fn ours(input: &[u8], opts: &ParseOptions) -> Verdict {
    match config::parse(input, opts) {
        Ok(p) => {
            let c = p.config;
            Verdict {
                ok: true,
                stage: None,
                error: None,
                non_masquerade_cidrs: Some(
                    c.non_masquerade_cidrs
                        .iter()
                        .map(|c| c.text.clone())
                        .collect(),
                ),
                networks: Some(
                    c.non_masquerade_cidrs
                        .iter()
                        .map(|c| Network {
                            family: if matches!(c.net, IpNet::V4(_)) { 4 } else { 6 },
                            net: c.net.to_string(),
                        })
                        .collect(),
                ),
                cidr_limit: c.cidr_limit,
                masq_link_local: c.masq_link_local,
                masq_link_local_ipv6: c.masq_link_local_ipv6,
                resync_interval_nanos: c.resync_interval_nanos,
            }
        }
        Err(e) => Verdict {
            ok: false,
            stage: None,
            error: Some(e.to_string()),
            non_masquerade_cidrs: None,
            networks: None,
            cidr_limit: 0,
            masq_link_local: false,
            masq_link_local_ipv6: false,
            resync_interval_nanos: 0,
        },
    }
}

/// How two verdicts differ, if they do: a different verdict, or different values.
/// Error messages are not compared (ours name the key and value; Go's do not).
pub fn difference(theirs: &Verdict, ours: &Verdict) -> Option<String> {
    match (theirs.ok, ours.ok) {
        (false, false) => None,
        (true, false) => Some(format!(
            "reference accepts, we reject: {}",
            ours.error.as_deref().unwrap_or("")
        )),
        (false, true) => Some(format!(
            "reference rejects ({}: {}), we accept",
            theirs.stage.as_deref().unwrap_or(""),
            theirs.error.as_deref().unwrap_or("")
        )),
        (true, true) => {
            let mut diffs = Vec::new();
            if theirs.non_masquerade_cidrs != ours.non_masquerade_cidrs {
                diffs.push(format!(
                    "nonMasqueradeCIDRs {:?} vs ours {:?}",
                    theirs.non_masquerade_cidrs, ours.non_masquerade_cidrs
                ));
            }
            if theirs.networks != ours.networks {
                diffs.push(format!(
                    "networks {:?} vs ours {:?}",
                    theirs.networks, ours.networks
                ));
            }
            for (name, a, b) in [
                ("cidrLimit", theirs.cidr_limit, ours.cidr_limit),
                (
                    "resyncInterval",
                    theirs.resync_interval_nanos,
                    ours.resync_interval_nanos,
                ),
                (
                    "masqLinkLocal",
                    theirs.masq_link_local as i64,
                    ours.masq_link_local as i64,
                ),
                (
                    "masqLinkLocalIPv6",
                    theirs.masq_link_local_ipv6 as i64,
                    ours.masq_link_local_ipv6 as i64,
                ),
            ] {
                if a != b {
                    diffs.push(format!("{name} {a} vs ours {b}"));
                }
            }
            (!diffs.is_empty()).then(|| diffs.join("; "))
        }
    }
}

/// The documented reason for a difference (a row of docs/differences-from-reference.md),
/// or None when it is unexplained. Only differences in the safe direction are explained
/// here beyond the resource bounds: documents we refuse (so the last good rules stay)
/// that go-yaml's YAML 1.1 scanner reads.
pub fn explained(theirs: &Verdict, ours: &Verdict) -> Option<&'static str> {
    let our_error = ours.error.as_deref().unwrap_or("");
    if !theirs.ok || ours.ok {
        return None;
    }
    for (marker, row) in [
        ("excessive aliasing", "bounds: alias expansion"),
        ("more than 1000000 values", "bounds: values per document"),
        ("nested more than", "bounds: nesting depth"),
    ] {
        if our_error.contains(marker) {
            return Some(row);
        }
    }
    // go-yaml's reader decodes only as far as its parser reads (the first document and a
    // token beyond); ours checks the whole file.
    if our_error.contains("not valid UTF-8") || our_error.contains("control character") {
        return Some("encoding: bytes after the first document");
    }
    if !our_error.starts_with("YAML syntax error") {
        return None;
    }
    // Our own semantic checks report through the same error type; a refusal by one of
    // them where the reference accepts is a bug, never "syntax".
    for semantic in [
        "unsupported map key",
        "json: unsupported value",
        "map merge requires",
        "cannot decode",
        "unknown anchor",
        "contains itself",
    ] {
        if our_error.contains(semantic) {
            return None;
        }
    }
    // go-yaml refuses every collection it reads as a key, as we do: where it accepts, it
    // read the document otherwise (its simple keys: `{}: x` is `{}`).
    if our_error.contains("invalid map key") {
        return Some("syntax: a collection as a key");
    }
    // libyaml ends a tag shorthand at `,`, `[` or `]`; go-yaml takes them in.
    if our_error.contains("tag") {
        return Some("syntax: tags");
    }
    // One of the rules where go-yaml reads otherwise than libyaml (yaml/go_rules.rs).
    if our_error.contains("go-yaml") {
        return Some("syntax: go-yaml reads otherwise");
    }
    // Any other refusal by libyaml where go-yaml (a port of an older libyaml) reads the
    // document: the safe direction.
    Some("syntax: libyaml rules")
}
