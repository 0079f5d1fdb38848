//! [`Config`] + flags → the exact `iptables-restore` payload. Pure: no I/O.
//!
//! The text is byte-identical to the reference's payload (docs/spec.md §4): the
//! argument order inside each rule is the reference's, not the order `iptables-save`
//! prints, because the payload itself is what a dry run shows and what snapshot tests pin.

use super::{Family, RuleOptions};
use crate::config::Config;
use ipnet::IpNet;

pub mod text;

/// Comment on every RETURN rule.
pub const LOCAL_COMMENT: &str = "ip-masq-agent: local traffic is not subject to MASQUERADE";
/// Comment on every MASQUERADE rule.
pub const MASQ_COMMENT: &str =
    "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)";

/// The `iptables-restore --noflush` payload that replaces the chain's content.
pub fn restore_payload(config: &Config, family: Family, opts: &RuleOptions) -> String {
    let chain = &opts.chain;
    let mut out = format!("*nat\n:{chain} - [0:0]\n");
    let masq_link_local = match family {
        Family::V4 => config.masq_link_local,
        Family::V6 => config.masq_link_local_ipv6,
    };
    let ret = |out: &mut String, dest: &str| {
        out.push_str(&format!(
            "-A {chain} -m comment --comment \"{LOCAL_COMMENT}\" -d {dest} -j RETURN\n"
        ));
    };
    if !masq_link_local {
        ret(&mut out, family.link_local());
    }
    for cidr in &config.non_masquerade_cidrs {
        let matches = matches!(
            (family, cidr.net),
            (Family::V4, IpNet::V4(_)) | (Family::V6, IpNet::V6(_))
        );
        if matches {
            // The parsed network, not the text: iptables reads `010.0.0.0` as octal and
            // rejects `/08`; what reaches it is exactly what was validated.
            ret(&mut out, &cidr.net.to_string());
        }
    }
    let masq = format!(
        "-A {chain} -m comment --comment \"{MASQ_COMMENT}\" -j MASQUERADE{}",
        if opts.random_fully {
            " --random-fully"
        } else {
            ""
        }
    );
    if !opts.to_ports.is_empty() {
        let sizes: Vec<u64> = opts.to_ports.iter().map(|r| r.size()).collect();
        for proto in ["tcp", "udp", "sctp"] {
            for (i, range) in opts.to_ports.iter().enumerate() {
                out.push_str(&format!("{masq} -p {proto}"));
                if i + 1 < opts.to_ports.len() {
                    let rest: u64 = sizes[i..].iter().sum();
                    let p = sizes[i] as f64 / rest as f64;
                    out.push_str(&format!(
                        " -m statistic --mode random --probability {}",
                        format_probability(p)
                    ));
                }
                out.push_str(&format!(" --to-ports {range}\n"));
            }
        }
    }
    out.push_str(&masq);
    out.push_str("\nCOMMIT\n");
    out
}

/// Go's `strconv.FormatFloat(p, 'f', -1, 64)`: the shortest decimal that round-trips, never
/// in exponent form. Rust's `Display` for `f64` has exactly those two properties.
pub fn format_probability(p: f64) -> String {
    format!("{p}")
}

/// Why a `--masq-chain` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --masq-chain {value:?}: {reason}")]
pub struct ChainNameError {
    pub value: String,
    pub reason: String,
}

/// Names iptables refuses as a user chain (built-in chains and targets a jump would
/// resolve to instead of the chain).
const RESERVED_CHAIN_NAMES: [&str; 16] = [
    "PREROUTING",
    "INPUT",
    "FORWARD",
    "OUTPUT",
    "POSTROUTING",
    "ACCEPT",
    "DROP",
    "QUEUE",
    "RETURN",
    "MASQUERADE",
    "SNAT",
    "DNAT",
    "REDIRECT",
    "NETMAP",
    "LOG",
    "REJECT",
];

/// Checks `--masq-chain` against what iptables accepts as a chain name *and* what survives
/// an `iptables-restore` line and a rule comment: 1 to 28 printable ASCII characters, no
/// whitespace or quotes, not starting with `-` or `!`, not a built-in chain or target.
/// Checked once at start, so a bad name fails before anything is written (a name that
/// `iptables -N` accepts but `iptables-restore` cannot parse once left a dangling jump).
pub fn validate_chain_name(value: &str) -> Result<(), ChainNameError> {
    let err = |reason: &str| {
        Err(ChainNameError {
            value: value.chars().take(64).collect(),
            reason: reason.to_string(),
        })
    };
    if value.is_empty() {
        return err("empty");
    }
    if value.len() > 28 {
        return err("longer than 28 characters (iptables' limit)");
    }
    if let Some(c) = value
        .chars()
        .find(|c| !c.is_ascii_graphic() || matches!(c, '"' | '\'' | '\\'))
    {
        return err(&format!(
            "contains {c:?}: only printable ASCII without spaces or quotes is allowed"
        ));
    }
    if value.starts_with(['-', '!']) {
        return err("must not start with '-' or '!'");
    }
    if RESERVED_CHAIN_NAMES.contains(&value) {
        return err("is a built-in chain or target name");
    }
    Ok(())
}

/// Arguments after `-C`/`-A POSTROUTING` for the jump into the chain.
pub fn postrouting_jump_args(chain: &str) -> Vec<String> {
    vec![
        "-m".into(),
        "comment".into(),
        "--comment".into(),
        format!(
            "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom {chain} chain"
        ),
        "-m".into(),
        "addrtype".into(),
        "!".into(),
        "--dst-type".into(),
        "LOCAL".into(),
        "-j".into(),
        chain.to_string(),
    ]
}

#[cfg(test)]
mod tests;
