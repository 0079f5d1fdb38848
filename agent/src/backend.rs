//! Applying rules to the kernel: a small trait and its command-line implementation.
//!
//! The implementation runs `iptables`, `iptables-restore`, `ip6tables`,
//! `ip6tables-restore` and `nft` found on `PATH` (never a fixed `-legacy`/`-nft` variant:
//! whoever starts the agent picks the backend by what `PATH` resolves to) as child
//! processes with an argument vector and stdin, never through a shell. Every iptables call
//! passes `-w` with a bound so a held xtables lock delays a sync; on top of that every
//! child has a deadline and is killed (with its whole process group) when it passes it or
//! when the agent is told to stop, so neither a wedged iptables or nft nor SIGTERM can
//! leave the daemon hanging.

use crate::rules::{postrouting_jump_args, Family};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

pub use crate::iptables_text::{parse_version, split_rule};

/// Seconds to wait for the xtables lock.
pub const LOCK_WAIT_SECONDS: &str = "5";

/// Default deadline of one iptables child: the lock wait plus ample time for a large
/// restore (100,000 rules take seconds on iptables-nft).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// How much of a child's stderr an error message carries.
const MAX_STDERR_CHARS: usize = 1000;

/// Shared "stop now" flag: set by the signal handler thread, checked before every child
/// is started and while one runs, so a stop request interrupts any wait promptly.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A failure to apply rules; carries the command and what it printed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("could not run {command}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("could not understand `{command}` output {output:?}")]
    Version { command: String, output: String },
    #[error("{command} did not finish within {after:?}; killed")]
    Timeout { command: String, after: Duration },
    #[error("{command} interrupted: the agent is stopping")]
    Interrupted { command: String },
}

/// What the daemon needs from a firewall backend.
pub trait Backend {
    /// Applies a payload with `--noflush`: creates the chains it declares if missing and
    /// replaces their content, atomically.
    fn restore(&mut self, family: Family, payload: &str) -> Result<(), BackendError>;
    /// Makes sure `POSTROUTING` jumps to `chain` (appended once, only if missing).
    fn ensure_jump(&mut self, family: Family, chain: &str) -> Result<(), BackendError>;
    /// Whether MASQUERADE accepts `--random-fully` (iptables 1.6.2 and later).
    fn supports_random_fully(&mut self) -> Result<bool, BackendError>;
    /// Runs an nft script (`nft -f -`): the whole script is one kernel transaction (the
    /// nftables datapath sends two per sync, in order: `crate::nftables::Scripts`).
    fn nft_apply(&mut self, script: &str) -> Result<(), BackendError>;
    /// `nft list table inet <table>`: its listing, `None` when the command fails (no such
    /// table, or nft cannot list it). Only ever used to skip a sync with nothing to do, so
    /// any doubt means "apply".
    fn nft_list_table(&mut self, table: &str) -> Option<String>;
    /// The nftables ruleset generation of this network namespace (bumped by every commit,
    /// anyone's), `None` when it cannot be read (no netlink permission, no nf_tables). Like
    /// the listing, only ever used to skip work: `None` means "look at the listing".
    fn nft_generation(&mut self) -> Option<u32>;
    /// Removes the iptables datapath's rules of `family`: every `POSTROUTING` rule jumping
    /// to `chain`, then `chain` itself (flushed, deleted). Nothing to do, or no iptables
    /// binary on `PATH`, is no error.
    fn remove_iptables(&mut self, family: Family, chain: &str) -> Result<Cleanup, BackendError>;
    /// Deletes the nftables datapath's table `inet <table>` if it exists. No `nft` on
    /// `PATH` is no error.
    fn remove_nft_table(&mut self, table: &str) -> Result<Cleanup, BackendError>;
}

/// What removing the other datapath's rules found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    /// Nothing of ours was there.
    Nothing,
    /// Something was removed; says what.
    Removed(String),
    /// The tool is not on `PATH`, so there was nothing we could see (or remove).
    ToolMissing(String),
}

/// Whether `program` resolves on `PATH` to an executable file (what `Command` would run).
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(program))
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

/// Runs child processes with a deadline and the stop flag: shared by every command-line
/// tool the agent drives (iptables, ip6tables, their `-restore`, nft).
#[derive(Debug, Clone)]
pub struct Runner {
    stop: StopFlag,
    timeout: Duration,
}

impl Runner {
    /// Children are killed after `timeout`, or as soon as `stop` is set.
    pub fn new(stop: StopFlag, timeout: Duration) -> Self {
        Runner { stop, timeout }
    }
}

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
/// and nft's parsing per sync (docs/performance.md, docs/nftables-datapath.md). The one
/// exception is the ruleset generation ([`crate::nft_generation`]): a fixed 20-byte
/// request that nft 1.0.6 has no command for (as far as we found), read every
/// steady-state round.
#[derive(Debug, Clone)]
pub struct Cli {
    runner: Runner,
    /// Families whose `-S` listing did not show a jump we had just appended.
    check_with_c: Vec<Family>,
}

impl Cli {
    /// Children are killed after `timeout`, or as soon as `stop` is set.
    pub fn new(stop: StopFlag, timeout: Duration) -> Self {
        Cli {
            runner: Runner::new(stop, timeout),
            check_with_c: Vec::new(),
        }
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

/// What a child printed and how it ended.
pub(crate) struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    command: String,
}

impl Output {
    fn into_error(self) -> BackendError {
        let stderr = self.stderr.trim();
        let stderr = if stderr.chars().count() > MAX_STDERR_CHARS {
            let cut: String = stderr.chars().take(MAX_STDERR_CHARS).collect();
            format!("{cut}... (cut)")
        } else {
            stderr.to_string()
        };
        BackendError::Failed {
            command: self.command,
            status: match self.code {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".into(),
            },
            stderr,
        }
    }
}

fn binary(family: Family) -> &'static str {
    match family {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    }
}

/// Kills a child's whole process group (it is the group's leader); a member left over
/// after the leader exited is killed too. ESRCH (nobody left) is fine.
fn kill_group(pgid: u32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Reads a pipe to its end on a thread, so a chatty child never blocks on a full pipe
/// while we wait for it.
fn drain(
    pipe: Option<impl Read + Send + 'static>,
    tx: mpsc::Sender<(bool, Vec<u8>)>,
    is_err: bool,
) {
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send((is_err, buf));
        });
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

impl Runner {
    /// Runs `program` (looked up on `PATH`) with `args` and `stdin`, in its own process
    /// group, killed with that group at the deadline or when the stop flag is set.
    pub(crate) fn run(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> Result<Output, BackendError> {
        let command = format!("{program} {}", args.join(" "));
        if self.stop.is_set() {
            return Err(BackendError::Interrupted { command });
        }
        tracing::debug!(%command, "running");
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a deadline or a stop kills whatever it started.
            .process_group(0)
            .spawn()
            .map_err(|source| BackendError::Spawn {
                command: program.to_string(),
                source,
            })?;
        let pgid = child.id();
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // On a thread: a child that never reads must not block us past its deadline.
            // A child that exits early closes its stdin; its exit status tells the story.
            let input = input.to_owned();
            std::thread::spawn(move || {
                let _ = pipe.write_all(input.as_bytes());
            });
        }
        let (tx, rx) = mpsc::channel();
        drain(child.stdout.take(), tx.clone(), false);
        drain(child.stderr.take(), tx, true);

        // The exit arrives on a channel the moment it happens; every 10 ms in between the
        // stop flag and the deadline are checked.
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = done_tx.send(child.wait());
        });
        let start = Instant::now();
        let status = loop {
            let left = self.timeout.saturating_sub(start.elapsed());
            match done_rx.recv_timeout(left.min(Duration::from_millis(10))) {
                Ok(Ok(status)) => break status,
                Ok(Err(source)) => {
                    kill_group(pgid);
                    return Err(BackendError::Spawn { command, source });
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    kill_group(pgid);
                    return Err(BackendError::Spawn {
                        command,
                        source: std::io::Error::other("lost track of the child"),
                    });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let stopped = self.stop.is_set();
            if stopped || start.elapsed() >= self.timeout {
                kill_group(pgid);
                // Reaped by the waiter thread; bounded all the same.
                let _ = done_rx.recv_timeout(Duration::from_secs(1));
                return Err(if stopped {
                    BackendError::Interrupted { command }
                } else {
                    BackendError::Timeout {
                        command,
                        after: self.timeout,
                    }
                });
            }
        };
        kill_group(pgid);
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        // Both pipes reach their end once the group is gone; bounded all the same.
        for _ in 0..2 {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok((true, b)) => stderr = b,
                Ok((false, b)) => stdout = b,
                Err(_) => break,
            }
        }
        Ok(Output {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            command,
        })
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
        let out = self.run("nft", &args(&["-f", "-"]), Some(script))?;
        if out.code == Some(0) {
            Ok(())
        } else {
            Err(out.into_error())
        }
    }

    fn nft_list_table(&mut self, table: &str) -> Option<String> {
        let out = self
            .run("nft", &args(&["list", "table", "inet", table]), None)
            .ok()?;
        (out.code == Some(0)).then_some(out.stdout)
    }

    fn nft_generation(&mut self) -> Option<u32> {
        crate::nft_generation::read(self.runner.timeout)
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
        let listed = self.run("nft", &args(&["list", "tables", "inet"]), None)?;
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
        let out = self.run("nft", &args(&["delete", "table", "inet", table]), None)?;
        if out.code != Some(0) {
            return Err(out.into_error());
        }
        Ok(Cleanup::Removed(format!("nft table inet {table}")))
    }
}
