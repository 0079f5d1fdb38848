//! Applying rules to the kernel: a small trait and its iptables implementation.
//!
//! The iptables implementation runs `iptables`, `iptables-restore`, `ip6tables` and
//! `ip6tables-restore` found on `PATH` (never a fixed `-legacy`/`-nft` variant: whoever
//! starts the agent picks the backend by what `PATH` resolves to) as child processes with
//! an argument vector and stdin, never through a shell. Every call passes `-w` with a
//! bound so a held xtables lock delays a sync but cannot hang it.

use crate::rules::{postrouting_jump_args, Family};
use std::io::Write;
use std::process::{Command, Stdio};

/// Seconds to wait for the xtables lock.
pub const LOCK_WAIT_SECONDS: &str = "5";

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
}

/// What the daemon needs from a firewall backend.
pub trait Backend {
    /// Makes sure `chain` exists in the nat table.
    fn ensure_chain(&mut self, family: Family, chain: &str) -> Result<(), BackendError>;
    /// Makes sure `POSTROUTING` jumps to `chain` (appended once, only if missing).
    fn ensure_jump(&mut self, family: Family, chain: &str) -> Result<(), BackendError>;
    /// Applies a payload with `--noflush` (replaces the chains it declares, atomically).
    fn restore(&mut self, family: Family, payload: &str) -> Result<(), BackendError>;
    /// Whether MASQUERADE accepts `--random-fully` (iptables 1.6.2 and later).
    fn supports_random_fully(&mut self) -> Result<bool, BackendError>;
}

/// The iptables/ip6tables command-line backend.
#[derive(Debug, Clone, Default)]
pub struct Iptables;

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    command: String,
}

impl Output {
    fn into_error(self) -> BackendError {
        BackendError::Failed {
            command: self.command,
            status: match self.code {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".into(),
            },
            stderr: self.stderr.trim().to_string(),
        }
    }
}

fn binary(family: Family) -> &'static str {
    match family {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    }
}

fn run(program: &str, args: &[String], stdin: Option<&str>) -> Result<Output, BackendError> {
    let command = format!("{program} {}", args.join(" "));
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
        .spawn()
        .map_err(|source| BackendError::Spawn {
            command: program.to_string(),
            source,
        })?;
    if let Some(input) = stdin {
        // A child that exits early closes its stdin; its exit status tells the story.
        if let Some(mut pipe) = child.stdin.take() {
            let _ = pipe.write_all(input.as_bytes());
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|source| BackendError::Spawn {
            command: program.to_string(),
            source,
        })?;
    Ok(Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        command,
    })
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_string()).collect()
}

impl Backend for Iptables {
    fn ensure_chain(&mut self, family: Family, chain: &str) -> Result<(), BackendError> {
        let bin = binary(family);
        let created = run(
            bin,
            &args(&["-w", LOCK_WAIT_SECONDS, "-t", "nat", "-N", chain]),
            None,
        )?;
        if created.code == Some(0) {
            tracing::info!(chain, table = "nat", %bin, "created chain");
            return Ok(());
        }
        // Most likely it exists already; confirm rather than parse the message.
        let listed = run(
            bin,
            &args(&["-w", LOCK_WAIT_SECONDS, "-t", "nat", "-S", chain]),
            None,
        )?;
        if listed.code == Some(0) {
            Ok(())
        } else {
            Err(created.into_error())
        }
    }

    fn ensure_jump(&mut self, family: Family, chain: &str) -> Result<(), BackendError> {
        let bin = binary(family);
        let rule = postrouting_jump_args(chain);
        let with = |op: &str| {
            let mut v = args(&["-w", LOCK_WAIT_SECONDS, "-t", "nat", op, "POSTROUTING"]);
            v.extend(rule.iter().cloned());
            v
        };
        let check = run(bin, &with("-C"), None)?;
        match check.code {
            Some(0) => Ok(()),
            // 1: no such rule. Anything else (bad arguments, lock) is a real failure.
            Some(1) => {
                let append = run(bin, &with("-A"), None)?;
                if append.code == Some(0) {
                    tracing::info!(chain, %bin, "appended POSTROUTING jump");
                    Ok(())
                } else {
                    Err(append.into_error())
                }
            }
            _ => Err(check.into_error()),
        }
    }

    fn restore(&mut self, family: Family, payload: &str) -> Result<(), BackendError> {
        let bin = format!("{}-restore", binary(family));
        let out = run(
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

    fn supports_random_fully(&mut self) -> Result<bool, BackendError> {
        let out = run("iptables", &args(&["--version"]), None)?;
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
}

/// Finds `vX.Y.Z` (or `vX.Y`) in `iptables --version` output, e.g. `iptables v1.8.9 (legacy)`.
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let start = text
        .find(" v")
        .map(|i| i + 2)
        .or_else(|| text.strip_prefix('v').map(|_| 1))?;
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = token.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn versions() {
        assert_eq!(parse_version("iptables v1.8.9 (legacy)\n"), Some((1, 8, 9)));
        assert_eq!(parse_version("iptables v1.6.2"), Some((1, 6, 2)));
        assert_eq!(parse_version("iptables v1.6 foo"), Some((1, 6, 0)));
        assert_eq!(parse_version("v1.4.21"), Some((1, 4, 21)));
        assert_eq!(parse_version("garbage"), None);
        assert!(parse_version("iptables v1.6.1").unwrap() < (1, 6, 2));
    }
}
