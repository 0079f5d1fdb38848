//! [`Config`] + flags → the exact `nft -f -` transactions of the nftables datapath (and
//! the whole-table script it falls back to). Pure: no I/O.
//!
//! # Shape (docs/nftables-datapath.md)
//!
//! **One `inet` table**, not one `ip` and one `ip6` table. A single table means each
//! `nft -f -` transaction covers IPv4 and IPv6 together (they can never disagree, not even
//! for a moment), one `delete table` removes everything the agent owns, and one chain
//! holds the locality check and the masquerade once instead of twice. The price: a `nat`
//! chain in an `inet` table needs Linux 5.2 or later (and nft 0.9.1+); older kernels are
//! out of support everywhere Kubernetes still runs, and the iptables datapath (the
//! default) stays for them.
//!
//! **Names.** Everything this agent owns is named after `--masq-chain` (default
//! `IP-MASQ-AGENT`), as in the iptables datapath, where the chain's name is its identity:
//! the table is `inet <masq-chain>` and its base chain is `<masq-chain>` too; the sets
//! inside are `nomasq-v4` and `nomasq-v6`. So two agents with different `--masq-chain`
//! values keep two tables, and switching datapaths knows exactly what to remove on the
//! other side (the iptables chain `<masq-chain>` and its POSTROUTING jump; the nft table
//! `inet <masq-chain>`). nft 1.0.x reads a table or chain name only as a bare word, never
//! quoted, so the nftables datapath takes the names [`validate_nft_name`] accepts.
//!
//! **Every sync is two in-place transactions** ([`scripts`], [`Scripts`] says why two):
//! (1) the table and sets, created if missing, each set flushed and refilled; (2) the
//! chain, created if missing, flushed and refilled. Never a `delete table`: on Linux 6.18
//! a rule looking up a set created or filled in its own transaction can miss it right
//! after the commit, and a new flow to a non-masquerade destination is then masqueraded.
//! Each transaction is one netlink batch, committed atomically: the rules are never
//! missing or duplicated, and drift (a flushed chain, a deleted table, an element gone
//! from or added to a set, a rule appended by hand) is gone after the next sync. What
//! they cannot remove (a chain or set added inside the table, an object of another
//! shape) the daemon catches by listing the table afterwards, and then replaces the
//! whole table with [`script`], the former one-transaction sync. When the table is still
//! as the last sync left it, the daemon sends nothing at all ([`state`]).
//!
//! **The chain** (`type nat hook postrouting priority srcnat`, i.e. 100, the usual source
//! NAT priority; policy accept), rule by rule:
//!
//! 1. `fib daddr type local return`: the `-m addrtype ! --dst-type LOCAL` of the iptables
//!    jump: traffic to an address local to the node is never touched.
//! 2. without `--enable-ipv6`, `meta nfproto ipv6 return`: the iptables datapath never
//!    touches ip6tables then, so IPv6 is not masqueraded here either.
//! 3. `ip daddr 169.254.0.0/16 return` unless `masqLinkLocal`;
//! 4. `ip daddr @nomasq-v4 return`;
//! 5. with `--enable-ipv6`: `ip6 daddr fe80::/10 return` unless `masqLinkLocalIPv6`, then
//!    `ip6 daddr @nomasq-v6 return`;
//! 6. with `--to-ports`, for each range in order: `meta l4proto { tcp, udp, sctp } numgen
//!    random mod REST < SIZE masquerade to :A-B`, where SIZE is the range's size and REST
//!    the size of this and every later range (the draw is left out on the last range):
//!    exactly the choice the iptables datapath makes with `-m statistic --probability
//!    SIZE/REST` per protocol, without the float;
//! 7. `masquerade` (other protocols, or everything without `--to-ports`).
//!
//! `--random-fully` adds `fully-random` to every masquerade (nft and the kernel have
//! supported it since long before `inet` nat chains, so nothing is probed).
//!
//! The non-masquerade CIDRs sit in one interval set per family (`flags interval`). nft
//! refuses overlapping elements in one set, and a config may well hold duplicates or
//! overlaps (10.0.0.0/8 and 10.1.0.0/16), so the list is merged here into the fewest
//! prefixes covering the same addresses (`ipnet`'s `aggregate`): the script shows exactly what the
//! kernel will hold, with no dependence on nft's `auto-merge` (which older nft releases
//! got wrong for elements added in one batch).

use super::iptables::{LOCAL_COMMENT, MASQ_COMMENT};
use super::RuleOptions;
use crate::config::Config;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

pub mod clock;
pub mod contents;
pub mod elements;
pub mod generation;
pub mod netlink;
pub mod objects;
pub mod socket;
pub mod state;
pub mod sync;

/// Comment on the table and on its chain.
pub const OWNER_COMMENT: &str =
    "ip-masq-agent: managed by ip-masq-agent; replaced whole at every sync";
/// Comment on the locality rule.
pub const FIB_COMMENT: &str =
    "ip-masq-agent: traffic to a local destination is not subject to MASQUERADE";
/// Comment on the IPv6 rule without `--enable-ipv6`.
pub const NO_IPV6_COMMENT: &str = "ip-masq-agent: IPv6 is not managed (--enable-ipv6 is off)";
/// Name of the IPv4 non-masquerade set.
pub const SET_V4: &str = "nomasq-v4";
/// Name of the IPv6 non-masquerade set.
pub const SET_V6: &str = "nomasq-v6";

/// The name of the table `--masq-chain` gives (the same word; see the module docs).
pub fn table_name(chain: &str) -> &str {
    chain
}

/// Why a `--masq-chain` value cannot name an nft table and chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --masq-chain {value:?} for --datapath nftables: {reason}")]
pub struct NftNameError {
    pub value: String,
    pub reason: String,
}

/// What the nftables datapath accepts as `--masq-chain` (on top of
/// [`super::iptables::validate_chain_name`]): nft 1.0.x parses a table or chain name only as
/// a bare word, so the name must be one: a letter or `_` first, then letters, digits, `_`,
/// `.` and `-`. And it must hold an upper-case letter: every nft keyword is lower case, so
/// such a name can never be read as one (`counter` or `ip` would be).
pub fn validate_nft_name(value: &str) -> Result<(), NftNameError> {
    let err = |reason: &str| {
        Err(NftNameError {
            value: value.chars().take(64).collect(),
            reason: reason.to_string(),
        })
    };
    let mut chars = value.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return err("must start with a letter or '_'"),
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return err(&format!(
            "contains {c:?}: only letters, digits, '_', '.' and '-' make an nft name"
        ));
    }
    if !value.chars().any(|c| c.is_ascii_uppercase()) {
        return err("needs an upper-case letter (a lower-case word may be an nft keyword)");
    }
    Ok(())
}

fn v4_elements(config: &Config) -> Vec<Ipv4Net> {
    let nets: Vec<Ipv4Net> = config
        .non_masquerade_cidrs
        .iter()
        .filter_map(|c| match c.net {
            IpNet::V4(n) => Some(n),
            IpNet::V6(_) => None,
        })
        .collect();
    // The fewest prefixes covering exactly the union (duplicates, overlaps and adjacent
    // networks merged), sorted: what an nft interval set accepts.
    Ipv4Net::aggregate(&nets)
}

fn v6_elements(config: &Config) -> Vec<Ipv6Net> {
    let nets: Vec<Ipv6Net> = config
        .non_masquerade_cidrs
        .iter()
        .filter_map(|c| match c.net {
            IpNet::V6(n) => Some(n),
            IpNet::V4(_) => None,
        })
        .collect();
    Ipv6Net::aggregate(&nets)
}

fn set(out: &mut String, name: &str, kind: &str, elements: &[String]) {
    out.push_str(&format!(
        "\tset {name} {{\n\t\ttype {kind}\n\t\tflags interval\n"
    ));
    if !elements.is_empty() {
        out.push_str("\t\telements = {\n");
        for e in elements {
            out.push_str(&format!("\t\t\t{e},\n"));
        }
        out.push_str("\t\t}\n");
    }
    out.push_str("\t}\n");
}

/// The rules of the chain, in order, each with its comment.
fn rules(config: &Config, opts: &RuleOptions) -> Vec<(String, &'static str)> {
    let mut out = vec![("fib daddr type local return".to_string(), FIB_COMMENT)];
    if !opts.ipv6 {
        out.push(("meta nfproto ipv6 return".into(), NO_IPV6_COMMENT));
    }
    if !config.masq_link_local {
        out.push(("ip daddr 169.254.0.0/16 return".into(), LOCAL_COMMENT));
    }
    out.push((format!("ip daddr @{SET_V4} return"), LOCAL_COMMENT));
    if opts.ipv6 {
        if !config.masq_link_local_ipv6 {
            out.push(("ip6 daddr fe80::/10 return".into(), LOCAL_COMMENT));
        }
        out.push((format!("ip6 daddr @{SET_V6} return"), LOCAL_COMMENT));
    }
    let fully = if opts.random_fully {
        " fully-random"
    } else {
        ""
    };
    let sizes: Vec<u64> = opts.to_ports.iter().map(|r| r.size()).collect();
    for (i, range) in opts.to_ports.iter().enumerate() {
        let mut text = String::from("meta l4proto { tcp, udp, sctp } ");
        if i + 1 < opts.to_ports.len() {
            let rest: u64 = sizes[i..].iter().sum();
            text.push_str(&format!("numgen random mod {rest} < {} ", sizes[i]));
        }
        text.push_str(&format!("masquerade to :{range}{fully}"));
        out.push((text, MASQ_COMMENT));
    }
    out.push((format!("masquerade{fully}"), MASQ_COMMENT));
    out
}

/// The sets of a config: (name, nft type, elements), IPv4 first.
fn sets(config: &Config, opts: &RuleOptions) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let mut out = vec![(
        SET_V4,
        "ipv4_addr",
        v4_elements(config).iter().map(|n| n.to_string()).collect(),
    )];
    if opts.ipv6 {
        let v6 = v6_elements(config).iter().map(|n| n.to_string()).collect();
        out.push((SET_V6, "ipv6_addr", v6));
    }
    out
}

/// The whole table in one transaction (`add table; delete table; table {...}`): what the
/// agent applies only when the in-place update ([`Scripts`]) fails, i.e. when the table
/// holds something of another shape (a set of another type, a chain on another hook).
/// It heals anything, but a set it creates is looked up by its new rules at the commit
/// before its contents are published: a new flow meeting that commit can miss the set
/// (docs/nftables-datapath.md, "Transactions and new flows").
pub fn script(config: &Config, opts: &RuleOptions) -> String {
    let table = table_name(&opts.chain);
    let chain = &opts.chain;
    let mut out =
        format!("add table inet {table}\ndelete table inet {table}\ntable inet {table} {{\n");
    out.push_str(&format!("\tcomment \"{OWNER_COMMENT}\"\n"));
    for (name, kind, elements) in sets(config, opts) {
        set(&mut out, name, kind, &elements);
    }
    out.push_str(&format!(
        "\tchain {chain} {{\n\t\tcomment \"{OWNER_COMMENT}\"\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
    ));
    for (text, comment) in rules(config, opts) {
        out.push_str(&format!("\t\t{text} comment \"{comment}\"\n"));
    }
    out.push_str("\t}\n}\n");
    out
}

/// What one sync of the nftables datapath applies: two transactions, in order, each
/// valid whatever the kernel holds (a fresh node, our table as we left it, or our table
/// with drift in it), and the whole-table script as a fallback.
///
/// Why two and never a `delete table`: a rule whose set was created or filled in the same
/// transaction can miss that set for an instant after the commit (measured on Linux 6.18:
/// about 1 new flow in 2,400 meeting a commit was masqueraded; docs/nftables-datapath.md).
/// A set that already existed never misses, even when the transaction flushes and refills
/// it, and a rule replaced in a chain that stays never leaves a gap. So transaction 1
/// creates the table and sets if missing and swaps each set's contents in place (the old
/// rules see the old or the new contents, never none), and transaction 2 swaps the chain's
/// rules in place, against sets whose contents are already committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scripts {
    /// Transaction 1: table and sets, created if missing, each set flushed and refilled.
    pub sets: String,
    /// Transaction 1 as the agent applies it when it can: only its `add table` and `add
    /// set` lines through nft, the flush and the elements then in one netlink batch
    /// ([`elements::fill`]), which spares nft's user-space handling of every element.
    pub structure: String,
    /// Transaction 2: the chain, created if missing, flushed and refilled.
    pub rules: String,
    /// The whole-table replacement, applied only if transaction 1 or 2 fails.
    pub replace: String,
    /// The expected state, to recognize our table in a listing ([`state`]).
    pub expect: Expected,
}

/// What the table holds once the two transactions are in, for [`state`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub table: String,
    pub chain: String,
    /// (set name, elements as rendered), IPv4 first.
    pub sets: Vec<(String, Vec<String>)>,
    /// How many rules the chain holds.
    pub rules: usize,
}

/// The two in-place transactions of a sync and the fallback (see [`Scripts`]).
pub fn scripts(config: &Config, opts: &RuleOptions) -> Scripts {
    let table = table_name(&opts.chain);
    let chain = &opts.chain;
    let head = format!("add table inet {table} {{ comment \"{OWNER_COMMENT}\"; }}\n");
    let mut sets_tx = head.clone();
    let mut structure = head.clone();
    let all_sets = sets(config, opts);
    for (name, kind, elements) in &all_sets {
        let add_set = format!("add set inet {table} {name} {{ type {kind}; flags interval; }}\n");
        structure.push_str(&add_set);
        sets_tx.push_str(&add_set);
        sets_tx.push_str(&format!("flush set inet {table} {name}\n"));
        if !elements.is_empty() {
            sets_tx.push_str(&format!(
                "add element inet {table} {name} {{ {} }}\n",
                elements.join(", ")
            ));
        }
    }
    let mut rules_tx = head;
    rules_tx.push_str(&format!(
        "add chain inet {table} {chain} {{ comment \"{OWNER_COMMENT}\"; type nat hook postrouting priority srcnat; policy accept; }}\nflush chain inet {table} {chain}\n"
    ));
    let all_rules = rules(config, opts);
    for (text, comment) in &all_rules {
        rules_tx.push_str(&format!(
            "add rule inet {table} {chain} {text} comment \"{comment}\"\n"
        ));
    }
    Scripts {
        sets: sets_tx,
        structure,
        rules: rules_tx,
        replace: script(config, opts),
        expect: Expected {
            table: table.to_string(),
            chain: chain.to_string(),
            sets: all_sets
                .into_iter()
                .map(|(name, _, e)| (name.to_string(), e))
                .collect(),
            rules: all_rules.len(),
        },
    }
}

/// The first line of each transaction in `--dry-run`'s output (an nft comment).
pub const DRY_RUN_SETS: &str = "# transaction 1 of 2: the table and its sets";
/// The first line of the second transaction in `--dry-run`'s output.
pub const DRY_RUN_RULES: &str = "# transaction 2 of 2: the chain and its rules";

/// What `--dry-run` prints: both transactions, each after its comment line. Applied as one
/// script (`nft -f`), the text is also valid and gives the same table.
pub fn dry_run(scripts: &Scripts) -> String {
    format!(
        "{DRY_RUN_SETS}\n{}{DRY_RUN_RULES}\n{}",
        scripts.sets, scripts.rules
    )
}

#[cfg(test)]
mod tests;
