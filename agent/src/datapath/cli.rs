//! The command-line [`Backend`]: runs `iptables`, `iptables-restore`, `ip6tables`,
//! `ip6tables-restore` and `nft` found on `PATH` (never a fixed `-legacy`/`-nft` variant:
//! whoever starts the agent picks the backend by what `PATH` resolves to) as child
//! processes with an argument vector and stdin, never through a shell. Every iptables call
//! passes `-w` with a bound so a held xtables lock delays a sync; on top of that every
//! child has a deadline and is killed (with its whole process group) by the [`Runner`] when
//! it passes it or when the agent is told to stop, so neither a wedged iptables or nft nor
//! SIGTERM can leave the daemon hanging.

use super::backend::{on_path, Backend, BackendError, Cleanup, StopFlag, ToolIdentity};
use super::iptables::postrouting_jump_args;
use super::iptables::text::{parse_version, split_rule};
use super::nftables::elements::ElementEdit;
use super::nftables::objects::TableObjects;
use super::nftables::socket::{Channel, SocketError};
use super::runner::{Output, Runner};
use super::Family;
use std::time::Duration;

/// Seconds to wait for the xtables lock.
pub const LOCK_WAIT_SECONDS: &str = "5";

/// Default deadline of one iptables child: the lock wait plus ample time for a large
/// restore (100,000 rules take seconds on iptables-nft).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The command-line backend: iptables/ip6tables for the iptables datapath, `nft` for the
/// nftables datapath (and each for removing the other datapath's leftovers). Every tool is
/// found on `PATH` and run by one [`Runner`].
///
/// nft is driven as a child (`nft -f -`, the script on stdin) rather than through a
/// netlink crate (rustables, nftnl bindings, mnl): a whole script is one atomic batch for
/// free (no batch assembly of our own), what a dry run prints is exactly what is applied
/// and readable by anyone who knows nft, the deadline/stop handling is the one iptables
/// already has, and no netlink message building of our own has to be kept in step with
/// the kernel (nft is released with nf_tables; rustables calls itself rough and is
/// GPL-3.0, the nftnl bindings need libnftnl and libmnl). The cost is a process start
/// and nft's parsing per sync (docs/performance.md, docs/nftables-datapath.md). The
/// exceptions are small fixed message sets where nft's cost is the whole cost: the ruleset
/// generation ([`super::nftables::generation`]), the set elements
/// ([`super::nftables::netlink`]) and the names of a table's chains and sets
/// ([`super::nftables::objects`]).
#[derive(Debug, Clone)]
pub struct Cli {
    runner: Runner,
    /// Families whose `-S` listing did not show a jump we had just appended.
    check_with_c: Vec<Family>,
    /// The `nft` file that last exited 0: while `PATH` still resolves `nft` to that very
    /// file, it runs, and an element batch needs no `nft --version` of its own.
    nft_proven: Option<ToolIdentity>,
    /// The netlink socket kept for the generation reads and element batches
    /// ([`super::nftables::socket`] says why it stays open).
    netlink: KeptChannel,
}

/// The kept netlink socket: opened on first use, dropped after a failed exchange (the
/// next one opens another); a clone of the backend opens its own.
#[derive(Debug, Default)]
struct KeptChannel(Option<Channel>);

impl Clone for KeptChannel {
    fn clone(&self) -> Self {
        KeptChannel(None)
    }
}

impl KeptChannel {
    /// Runs `f` on the channel (opened if needed); a failure drops it.
    fn with<T, E: From<SocketError>>(
        &mut self,
        timeout: Duration,
        f: impl FnOnce(&mut Channel) -> Result<T, E>,
    ) -> Result<T, E> {
        let channel = match &mut self.0 {
            Some(c) => c,
            empty => empty.insert(Channel::open(timeout)?),
        };
        let result = f(channel);
        if result.is_err() {
            self.0 = None;
        }
        result
    }
}

impl Cli {
    /// Children are killed after `timeout`, or as soon as `stop` is set.
    pub fn new(stop: StopFlag, timeout: Duration) -> Self {
        Cli {
            runner: Runner::new(stop, timeout),
            check_with_c: Vec::new(),
            nft_proven: None,
            netlink: KeptChannel::default(),
        }
    }

    /// Runs nft; an exit status 0 proves the file it was started from runs.
    fn nft(&mut self, args: &[String], stdin: Option<&str>) -> Result<Output, BackendError> {
        let identity = ToolIdentity::of("nft");
        let out = self.run("nft", args, stdin)?;
        if out.code == Some(0) {
            self.nft_proven = identity;
        }
        Ok(out)
    }

    fn run(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> Result<Output, BackendError> {
        self.runner.run(program, args, stdin)
    }
}

fn binary(family: Family) -> &'static str {
    match family {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    }
}

impl Cli {
    /// Whether `-S POSTROUTING` lists a rule whose arguments are exactly `rule`.
    fn jump_listed(&self, bin: &str, rule: &[String]) -> Result<bool, BackendError> {
        let out = self.run(
            bin,
            &args(&["-w", LOCK_WAIT_SECONDS, "-t", "nat", "-S", "POSTROUTING"]),
            None,
        )?;
        if out.code != Some(0) {
            return Err(out.into_error());
        }
        Ok(out.stdout.lines().any(|line| {
            let words = split_rule(line);
            words.len() == rule.len() + 2
                && words[0] == "-A"
                && words[1] == "POSTROUTING"
                && words[2..] == *rule
        }))
    }
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_string()).collect()
}

impl Backend for Cli {
    fn restore(&mut self, family: Family, payload: &str) -> Result<(), BackendError> {
        let bin = format!("{}-restore", binary(family));
        let out = self.run(
            &bin,
            &args(&["-w", LOCK_WAIT_SECONDS, "--noflush"]),
            Some(payload),
        )?;
        if out.code == Some(0) {
            Ok(())
        } else {
            Err(out.into_error())
        }
    }

    /// Lists POSTROUTING alone (`-S POSTROUTING`) and looks for the jump, then `-A` if
    /// missing. Not `-C`: iptables-nft answers `-C` only after fetching the whole nat
    /// table, 6 s with 100,000 rules in our chain; `-S POSTROUTING` takes milliseconds.
    /// Should a listing ever print the rule in a form we do not recognise, the append is
    /// verified, and that family falls back to `-C` rather than appending every round.
    fn ensure_jump(&mut self, family: Family, chain: &str) -> Result<(), BackendError> {
        let bin = binary(family);
        let rule = postrouting_jump_args(chain);
        let with = |op: &str| {
            let mut v = args(&["-w", LOCK_WAIT_SECONDS, "-t", "nat", op, "POSTROUTING"]);
            v.extend(rule.iter().cloned());
            v
        };
        let present = if self.check_with_c.contains(&family) {
            let check = self.run(bin, &with("-C"), None)?;
            match check.code {
                Some(0) => true,
                // 1: no such rule. Anything else (bad arguments, lock) is a real failure.
                Some(1) => false,
                _ => return Err(check.into_error()),
            }
        } else {
            self.jump_listed(bin, &rule)?
        };
        if present {
            return Ok(());
        }
        let append = self.run(bin, &with("-A"), None)?;
        if append.code != Some(0) {
            return Err(append.into_error());
        }
        tracing::info!(chain, %bin, "appended POSTROUTING jump");
        if !self.check_with_c.contains(&family) && !self.jump_listed(bin, &rule)? {
            tracing::warn!(%bin, "cannot recognise the jump in `-S POSTROUTING`; checking with -C from now on");
            self.check_with_c.push(family);
        }
        Ok(())
    }

    fn supports_random_fully(&mut self) -> Result<bool, BackendError> {
        let out = self.run("iptables", &args(&["--version"]), None)?;
        if out.code != Some(0) {
            return Err(out.into_error());
        }
        let text = format!("{}{}", out.stdout, out.stderr);
        let version = parse_version(&text).ok_or_else(|| BackendError::Version {
            command: "iptables --version".into(),
            output: text.trim().to_string(),
        })?;
        Ok(version >= (1, 6, 2))
    }

    fn nft_apply(&mut self, script: &str) -> Result<(), BackendError> {
        let out = self.nft(&args(&["-f", "-"]), Some(script))?;
        if out.code == Some(0) {
            Ok(())
        } else {
            Err(out.into_error())
        }
    }

    fn nft_list_table(&mut self, table: &str) -> Option<String> {
        let out = self
            .nft(&args(&["list", "table", "inet", table]), None)
            .ok()?;
        (out.code == Some(0)).then_some(out.stdout)
    }

    /// Only while nft runs: the batch stands in for nft's own transaction, so a broken or
    /// missing nft fails this round (the last good rules stay, `/readyz` says why) as it
    /// fails every other change, instead of going unnoticed until a change that needs
    /// nft. The proof is the last nft run that exited 0, as long as `PATH` still resolves
    /// `nft` to that same file (a few `stat`s); otherwise `nft --version` runs first (a
    /// process start, 3-4 ms).
    fn nft_edit_elements(&mut self, edit: &ElementEdit) -> Result<(), BackendError> {
        let proven = self.nft_proven.is_some() && ToolIdentity::of("nft") == self.nft_proven;
        if !proven {
            let out = self.nft(&args(&["--version"]), None)?;
            if out.code != Some(0) {
                return Err(out.into_error());
            }
        }
        let timings = self.netlink.with(self.runner.timeout(), |c| {
            super::nftables::netlink::apply(edit, c)
        })?;
        tracing::debug!(
            "nft element batch: built in {:.3} ms, sent and committed in {:.3} ms, answers read in {:.3} ms",
            timings.build.as_secs_f64() * 1e3,
            timings.send_and_commit.as_secs_f64() * 1e3,
            timings.answers.as_secs_f64() * 1e3
        );
        Ok(())
    }

    fn nft_table_objects(&mut self, table: &str) -> Option<TableObjects> {
        super::nftables::objects::read(table, self.runner.timeout())
            .inspect_err(|e| tracing::debug!("nft table objects unreadable: {e}"))
            .ok()
    }

    fn nft_set_contents(&mut self, table: &str, set: &str) -> Option<Vec<ipnet::IpNet>> {
        super::nftables::contents::read(table, set, self.runner.timeout())
            .inspect_err(|e| tracing::debug!("nft set {set} unreadable: {e}"))
            .ok()
            .flatten()
    }

    fn nft_generation(&mut self) -> Option<u32> {
        let timeout = self.runner.timeout();
        self.netlink
            .with(timeout, super::nftables::generation::read)
            .inspect_err(|e| tracing::debug!("nft generation unreadable: {e}"))
            .ok()
    }

    /// `-S POSTROUTING` for the jumps (any rule whose target is `chain`, whatever its
    /// comment: the reference's v2.10-v2.12 jump quoted its comment), `-S chain` for the
    /// chain (exit status 1: no such chain). Only when something is there: `-D` each jump
    /// by its own words, then `-F` and `-X` the chain. Nothing is ever created.
    fn remove_iptables(&mut self, family: Family, chain: &str) -> Result<Cleanup, BackendError> {
        let bin = binary(family);
        if !on_path(bin) {
            return Ok(Cleanup::ToolMissing(bin.to_string()));
        }
        let listed = self.run(
            bin,
            &args(&["-w", LOCK_WAIT_SECONDS, "-t", "nat", "-S", "POSTROUTING"]),
            None,
        )?;
        if listed.code != Some(0) {
            return Err(listed.into_error());
        }
        let jumps: Vec<Vec<String>> = listed
            .stdout
            .lines()
            .map(split_rule)
            .filter(|w| {
                w.len() > 4
                    && w[0] == "-A"
                    && w[1] == "POSTROUTING"
                    && w[w.len() - 2] == "-j"
                    && w[w.len() - 1] == chain
            })
            .collect();
        let shown = self.run(
            bin,
            &args(&["-w", LOCK_WAIT_SECONDS, "-t", "nat", "-S", chain]),
            None,
        )?;
        let chain_exists = match shown.code {
            Some(0) => true,
            // No such chain (iptables-nft 1.8.9 words it "incompatible, use 'nft' tool").
            Some(1) => false,
            _ => return Err(shown.into_error()),
        };
        if jumps.is_empty() && !chain_exists {
            return Ok(Cleanup::Nothing);
        }
        for jump in &jumps {
            let mut v = args(&["-w", LOCK_WAIT_SECONDS, "-t", "nat", "-D"]);
            v.extend(jump[1..].iter().cloned());
            let out = self.run(bin, &v, None)?;
            if out.code != Some(0) {
                return Err(out.into_error());
            }
        }
        if chain_exists {
            let rules = shown
                .stdout
                .lines()
                .filter(|l| l.starts_with("-A "))
                .count();
            for op in ["-F", "-X"] {
                let out = self.run(
                    bin,
                    &args(&["-w", LOCK_WAIT_SECONDS, "-t", "nat", op, chain]),
                    None,
                )?;
                if out.code != Some(0) {
                    return Err(out.into_error());
                }
            }
            return Ok(Cleanup::Removed(format!(
                "{bin}: {} POSTROUTING jump(s) and chain {chain} ({rules} rules)",
                jumps.len()
            )));
        }
        Ok(Cleanup::Removed(format!(
            "{bin}: {} POSTROUTING jump(s) to {chain}",
            jumps.len()
        )))
    }

    /// `nft list tables inet` (names only, cheap however large the table), then `delete
    /// table inet <table>` when it is there.
    fn remove_nft_table(&mut self, table: &str) -> Result<Cleanup, BackendError> {
        if !on_path("nft") {
            return Ok(Cleanup::ToolMissing("nft".into()));
        }
        let listed = self.nft(&args(&["list", "tables", "inet"]), None)?;
        if listed.code != Some(0) {
            return Err(listed.into_error());
        }
        let present = listed
            .stdout
            .lines()
            .any(|l| l.split_whitespace().eq(["table", "inet", table]));
        if !present {
            return Ok(Cleanup::Nothing);
        }
        let out = self.nft(&args(&["delete", "table", "inet", table]), None)?;
        if out.code != Some(0) {
            return Err(out.into_error());
        }
        Ok(Cleanup::Removed(format!("nft table inet {table}")))
    }
}
