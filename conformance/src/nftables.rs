//! The node's nftables, as the runner sees them for an implementation of listing kind
//! `nftables`: which tables are the implementation's, their normalised listing, and the
//! `nft` commands of tampering. Always run inside the case's `node` namespace with the
//! machine's own `nft`, never through the implementation's PATH (a fault shim there must
//! not blind the runner).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::guard::GuardError;

/// Where `nft` is looked for.
const NFT_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"];

/// Table names iptables-nft creates for its own tables (in families `ip`, `ip6`, `arp`,
/// `bridge`): they hold iptables rules, which the iptables sections show, not ours.
const IPTABLES_NFT_TABLES: [&str; 5] = ["filter", "nat", "mangle", "raw", "security"];
const IPTABLES_NFT_FAMILIES: [&str; 4] = ["ip", "ip6", "arp", "bridge"];

/// The machine's `nft`, if installed.
pub fn binary() -> Option<PathBuf> {
    NFT_DIRS
        .iter()
        .map(|d| Path::new(d).join("nft"))
        .find(|p| p.exists())
}

/// Errors from running `nft` in a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error(transparent)]
    Guard(#[from] GuardError),
    #[error("nft is not installed (install the nftables package: scripts/setup.sh)")]
    Missing,
    #[error("running nft {command}: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("nft {command} failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
}

/// A table, as `nft` names it: `inet ip-masq-agent`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Table {
    pub family: String,
    pub name: String,
}

impl Table {
    /// Parses `FAMILY NAME` (the profile's `nftables: {table: ...}`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        match parts.as_slice() {
            [family, name]
                if ["ip", "ip6", "inet", "arp", "bridge", "netdev"].contains(family) =>
            {
                Ok(Table {
                    family: family.to_string(),
                    name: name.to_string(),
                })
            }
            _ => Err(format!(
                "{text:?} is not `FAMILY NAME` with FAMILY one of ip, ip6, inet, arp, bridge, netdev"
            )),
        }
    }

    /// Whether iptables-nft owns a table of this name.
    pub fn is_iptables_nft(&self) -> bool {
        IPTABLES_NFT_FAMILIES.contains(&self.family.as_str())
            && IPTABLES_NFT_TABLES.contains(&self.name.as_str())
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.family, self.name)
    }
}

/// The nftables of one sandbox's `node` namespace, limited to the implementation's
/// tables: the one the profile names, else every table iptables-nft does not own.
pub struct NodeNft<'a> {
    pub ns: &'a File,
    pub table: Option<&'a Table>,
}

impl NodeNft<'_> {
    /// Runs `nft ARGS` (with `stdin` fed to it when given) in the namespace.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, NftError> {
        let binary = binary().ok_or(NftError::Missing)?;
        let mut cmd = crate::netns::command_in(self.ns, binary.to_str().unwrap_or_default())?;
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let command = args.join(" ");
        let spawn_err = |source| NftError::Spawn {
            command: command.clone(),
            source,
        };
        let child = {
            let _spawning = crate::forks::spawning();
            cmd.spawn().map_err(spawn_err)?
        };
        let out = crate::netns::output_within(
            child,
            stdin.map(|t| t.as_bytes().to_vec()),
            crate::netns::TOOL_DEADLINE,
            &format!("nft {command}"),
        )
        .map_err(spawn_err)?;
        if !out.status.success() {
            return Err(NftError::Failed {
                command,
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The implementation's tables that exist now, sorted.
    pub fn tables(&self) -> Result<Vec<Table>, NftError> {
        let listed = self.run(&["list", "tables"], None)?;
        let mut tables: Vec<Table> = listed
            .lines()
            .filter_map(|l| l.trim().strip_prefix("table "))
            .filter_map(|t| Table::parse(t).ok())
            .filter(|t| match self.table {
                Some(named) => t == named,
                None => !t.is_iptables_nft(),
            })
            .collect();
        tables.sort();
        Ok(tables)
    }

    /// `nft list table` of each of the implementation's tables, raw.
    pub fn list(&self) -> Result<String, NftError> {
        let mut text = String::new();
        for t in self.tables()? {
            // A table deleted between the two commands is simply gone.
            match self.run(&["list", "table", &t.family, &t.name], None) {
                Ok(listing) => text.push_str(&listing),
                Err(NftError::Failed { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(text)
    }

    /// Flushes every rule of the implementation's tables (sets and chains stay).
    pub fn flush_rules(&self) -> Result<(), NftError> {
        for t in self.tables()? {
            self.run(&["flush", "table", &t.family, &t.name], None)?;
        }
        Ok(())
    }

    /// Flushes the base chains (those hooked into the kernel): what makes packets reach
    /// the implementation's rules at all, like iptables' POSTROUTING jump.
    pub fn flush_base_chains(&self) -> Result<(), NftError> {
        for t in self.tables()? {
            let listing = self.run(&["list", "table", &t.family, &t.name], None)?;
            for chain in base_chains(&listing) {
                self.run(&["flush", "chain", &t.family, &t.name, &chain], None)?;
            }
        }
        Ok(())
    }

    /// Deletes the implementation's tables.
    pub fn delete_tables(&self) -> Result<(), NftError> {
        for t in self.tables()? {
            self.run(&["delete", "table", &t.family, &t.name], None)?;
        }
        Ok(())
    }

    /// Deletes the first element of the first non-empty named set; returns it as
    /// `table set element`, or `None` when no set has an element.
    pub fn delete_set_element(&self) -> Result<Option<String>, NftError> {
        for t in self.tables()? {
            let listing = self.run(&["list", "table", &t.family, &t.name], None)?;
            if let Some((set, element)) = first_set_element(&listing) {
                let what = format!("{} {} {{ {} }}", t, set, element);
                self.run(&["-f", "-"], Some(&format!("delete element {what}\n")))?;
                return Ok(Some(what));
            }
        }
        Ok(None)
    }
}

/// Names of the chains of a `nft list table` listing that carry a `hook`.
fn base_chains(listing: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in listing.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("chain ") {
            current = rest.split_whitespace().next().map(str::to_string);
        } else if l.starts_with("type ") && l.contains(" hook ") {
            if let Some(c) = current.take() {
                out.push(c);
            }
        }
    }
    out
}

/// The first named set with an element: `(set name, element)`.
fn first_set_element(listing: &str) -> Option<(String, String)> {
    let normalised = normalize(listing);
    let mut set = None;
    for line in normalised.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("set ").or_else(|| l.strip_prefix("map ")) {
            set = rest.split_whitespace().next().map(str::to_string);
        } else if let Some(body) = l.strip_prefix("elements = {") {
            let first = body.trim_end_matches('}').split(',').next()?.trim();
            if !first.is_empty() {
                return Some((set.clone()?, first.to_string()));
            }
        }
    }
    None
}

/// Normalises `nft list` output the way [`crate::snapshot`] does iptables': no handles,
/// `counter packets N bytes M` keeps its packets (byte counts differ between kernels:
/// TCP SYN sizes), the elements of a set sorted on one line, one space between words,
/// two spaces of indentation per level, no blank lines.
pub fn normalize(text: &str) -> String {
    let mut out = String::new();
    let mut pending: Option<(usize, String)> = None; // an `elements = {` still open
    for raw in text.lines() {
        let depth = raw.chars().take_while(|c| *c == '\t').count();
        let line = match raw.find(" # handle ") {
            Some(i) => &raw[..i],
            None => raw,
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || words[0].starts_with('#') {
            continue;
        }
        let line = drop_bytes(&words).join(" ");
        if let Some((d, mut acc)) = pending.take() {
            acc.push(' ');
            acc.push_str(&line);
            if line.ends_with('}') {
                push_line(&mut out, d, &sorted_elements(&acc));
            } else {
                pending = Some((d, acc));
            }
            continue;
        }
        if line.starts_with("elements = {") && !line.ends_with('}') {
            pending = Some((depth, line));
        } else if line.starts_with("elements = {") {
            push_line(&mut out, depth, &sorted_elements(&line));
        } else {
            push_line(&mut out, depth, &line);
        }
    }
    if let Some((d, acc)) = pending {
        push_line(&mut out, d, &acc);
    }
    out
}

fn push_line(out: &mut String, depth: usize, line: &str) {
    out.push_str(&"  ".repeat(depth));
    out.push_str(line);
    out.push('\n');
}

/// `counter packets N bytes M` → `counter packets N`.
fn drop_bytes<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        if words[i] == "bytes" && i >= 2 && words[i - 2] == "packets" && i + 1 < words.len() {
            i += 2;
            continue;
        }
        out.push(words[i]);
        i += 1;
    }
    out
}

/// `elements = { b, a }` with its elements sorted.
fn sorted_elements(line: &str) -> String {
    let body = line
        .trim_start_matches("elements = {")
        .trim_end_matches('}')
        .trim();
    let mut elements: Vec<&str> = body
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    elements.sort();
    format!("elements = {{ {} }}", elements.join(", "))
}

/// A normalised listing without any counter values: what readiness and `rules-changed`
/// compare (probes move counters; only the rules matter there).
pub fn without_counters(normalised: &str) -> String {
    normalised
        .lines()
        .map(|l| {
            let words: Vec<&str> = l.split(' ').collect();
            let mut kept = Vec::with_capacity(words.len());
            let mut i = 0;
            while i < words.len() {
                if words[i] == "packets"
                    && i + 1 < words.len()
                    && i > 0
                    && words[i - 1] == "counter"
                {
                    i += 2;
                    continue;
                }
                kept.push(words[i]);
                i += 1;
            }
            kept.join(" ") + "\n"
        })
        .collect()
}

/// Whether a normalised listing has what an ip-masq-agent's table needs to act: a chain
/// hooked at `postrouting` and a `masquerade` statement.
pub fn in_place(normalised: &str) -> bool {
    let hooked = normalised
        .lines()
        .any(|l| l.trim_start().starts_with("type nat hook postrouting"));
    let masquerades = normalised
        .lines()
        .any(|l| l.split(' ').any(|w| w == "masquerade"));
    hooked && masquerades
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = "table inet ip-masq-agent { # handle 1
\tset nomasq4 { # handle 2
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 10.0.0.0/8, 100.64.0.0/10,
\t\t\t     172.16.0.0/12, 192.0.0.0/24 }
\t}

\tchain postrouting { # handle 1
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tfib daddr type local return # handle 3
\t\tip daddr @nomasq4 counter packets 3 bytes 180 return # handle 4
\t\tcounter packets 0 bytes 0 masquerade fully-random # handle 5
\t}
}
";

    #[test]
    fn handles_bytes_and_layout_go_packets_stay() {
        let n = normalize(RAW);
        assert_eq!(
            n,
            "table inet ip-masq-agent {
  set nomasq4 {
    type ipv4_addr
    flags interval
    elements = { 10.0.0.0/8, 100.64.0.0/10, 172.16.0.0/12, 192.0.0.0/24 }
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    fib daddr type local return
    ip daddr @nomasq4 counter packets 3 return
    counter packets 0 masquerade fully-random
  }
}
"
        );
        assert!(in_place(&n));
        let bare = without_counters(&n);
        assert!(
            bare.contains("ip daddr @nomasq4 counter return\n"),
            "{bare}"
        );
        assert!(!in_place(&n.replace("masquerade", "accept")));
        assert_eq!(base_chains(RAW), ["postrouting"]);
        assert_eq!(
            first_set_element(RAW),
            Some(("nomasq4".into(), "10.0.0.0/8".into()))
        );
    }

    #[test]
    fn set_elements_are_sorted() {
        let raw = "\t\telements = { 192.168.0.0/16, 10.0.0.0/8 }\n";
        assert_eq!(
            normalize(raw),
            "    elements = { 10.0.0.0/8, 192.168.0.0/16 }\n"
        );
    }

    #[test]
    fn tables_parse_and_iptables_nft_tables_are_known() {
        let t = Table::parse("inet ip-masq-agent").unwrap();
        assert_eq!(t.to_string(), "inet ip-masq-agent");
        assert!(!t.is_iptables_nft());
        assert!(Table::parse("ip nat").unwrap().is_iptables_nft());
        assert!(!Table::parse("inet nat").unwrap().is_iptables_nft());
        assert!(Table::parse("ip-masq-agent").is_err());
        assert!(Table::parse("ipx t").is_err());
    }
}
