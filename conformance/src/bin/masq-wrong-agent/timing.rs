//! Wrong implementations whose fault is one of time (conformance/tests/runner/observed_time.rs):
//!
//! - `slow-act MILLIS CONFIG AGENT ARGS...`: reads CONFIG every resync period (the
//!   config's `resyncInterval`), and acts on each read MILLIS milliseconds later (runs
//!   `AGENT --once --config COPY ARGS...` on what it read): right rules, applied late;
//! - `exit-after-bad MILLIS CONFIG AGENT ARGS...`: runs the agent, reads CONFIG every
//!   100 ms, and MILLIS milliseconds after it first read a config the model calls bad
//!   kills the agent and exits with status 3;
//! - `debounce MILLIS CONFIG AGENT ARGS...`: reads the config only once the ConfigMap's
//!   `..data` link has not moved for MILLIS milliseconds (then every resync period):
//!   a config that keeps changing (a flap) is never read;
//! - `rewrite MILLIS CONFIG AGENT ARGS...`: see [`rewrite`] (a changing rule order and
//!   counters zeroed at every sync, for the waivers' self-tests).

use std::collections::VecDeque;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use masq_conformance::model::{read, Published, Reading};
use masq_conformance::vocabulary::Flags;

/// Where the acting modes put what they read (inside the implementation's private /etc).
const COPY: &str = "/etc/masq-wrong-agent/config";

/// What CONFIG holds now: `None` when it cannot be read (kept out of the agent).
fn read_config(config: &str) -> Option<String> {
    match std::fs::read(config) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(String::new()),
        Err(_) => None,
    }
}

/// One sync of the agent on `text`; true when it took the config.
fn sync(agent: &str, args: &[String], text: &str) -> bool {
    let copy = Path::new(COPY);
    std::fs::create_dir_all(copy.parent().expect("a parent")).expect("creating the copy's dir");
    std::fs::write(copy, text).expect("writing the copy");
    Command::new(agent)
        .args(["--once", "--config"])
        .arg(copy)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

pub fn slow_act(millis: u64, config: &str, agent: &str, args: &[String]) -> ! {
    let delay = Duration::from_millis(millis);
    let mut pending: VecDeque<(Instant, String)> = VecDeque::new();
    let mut period = Duration::from_secs(60);
    let mut last_read: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if last_read.is_none_or(|t| now >= t + period) {
            if let Some(text) = read_config(config) {
                pending.push_back((now + delay, text));
            }
            last_read = Some(now);
        }
        while pending
            .front()
            .is_some_and(|(due, _)| *due <= Instant::now())
        {
            let (_, text) = pending.pop_front().expect("a front");
            if sync(agent, args, &text) {
                period = super::period_of(&text);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn exit_after_bad(millis: u64, config: &str, agent: &str, args: &[String]) -> ExitCode {
    let flags = Flags::from_args(args).unwrap_or_default();
    let mut child = Command::new(agent)
        .args(args)
        .spawn()
        .expect("starting the agent");
    let mut exit_at: Option<Instant> = None;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return ExitCode::from(status.code().unwrap_or(1) as u8);
        }
        if exit_at.is_none() {
            let published = match read_config(config) {
                Some(text) => Published::Bytes(text.into_bytes()),
                None => Published::Unreadable,
            };
            if matches!(read(&published, &flags), Reading::Bad(_)) {
                eprintln!("masq-wrong-agent: read a bad config; exiting in {millis} ms");
                exit_at = Some(Instant::now() + Duration::from_millis(millis));
            }
        }
        if exit_at.is_some_and(|t| Instant::now() >= t) {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("masq-wrong-agent: exiting on purpose after a bad config");
            return ExitCode::from(3);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn debounce(millis: u64, config: &str, agent: &str, args: &[String]) -> ! {
    let quiet = Duration::from_millis(millis);
    let link = Path::new(config)
        .parent()
        .expect("CONFIG has a directory")
        .join("..data");
    let target = || std::fs::read_link(&link).ok();
    let (mut seen, mut since) = (target(), Instant::now());
    let mut synced: Option<(Option<std::path::PathBuf>, Instant)> = None;
    let mut period = Duration::from_secs(60);
    loop {
        let now_target = target();
        if now_target != seen {
            (seen, since) = (now_target, Instant::now());
        }
        let due = match &synced {
            None => true,
            Some((t, at)) => *t != seen || at.elapsed() >= period,
        };
        if due && since.elapsed() >= quiet {
            if let Some(text) = read_config(config) {
                if sync(agent, args, &text) {
                    period = super::period_of(&text);
                }
            }
            synced = Some((seen.clone(), Instant::now()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The reference's POSTROUTING jump (IPv4).
const JUMP: [&str; 11] = [
    "POSTROUTING",
    "-m",
    "comment",
    "--comment",
    "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom IP-MASQ-AGENT chain",
    "-m",
    "addrtype",
    "!",
    "--dst-type",
    "LOCAL",
    "-j",
];

/// `rewrite MILLIS CONFIG AGENT ARGS...`: every MILLIS milliseconds (its own period,
/// whatever the config says) reads CONFIG, takes the agent's `--dry-run` payload for it
/// (the last good one when it is bad) and restores the whole chain (zeroing its
/// counters), its RETURN rules reversed at every other sync, starting reversed: right outcomes, rules in a changing order, as an
/// implementation that writes its rules from a hash map in one restore does (IPv4 only).
pub fn rewrite(millis: u64, config: &str, agent: &str, args: &[String]) -> ! {
    let period = Duration::from_millis(millis);
    let mut syncs = 0u64;
    let mut last_good: Option<String> = None;
    loop {
        if let Some(text) = read_config(config) {
            std::fs::create_dir_all(Path::new(COPY).parent().expect("a parent"))
                .expect("creating the copy's dir");
            std::fs::write(COPY, &text).expect("writing the copy");
            let dry = Command::new(agent)
                .args(["--dry-run", "--config", COPY])
                .args(args)
                .output()
                .expect("running the agent");
            if dry.status.success() {
                last_good = Some(String::from_utf8_lossy(&dry.stdout).into_owned());
            }
        }
        // A bad or unreadable config: the last good rules, written again (in the other
        // order), as a keep-last-good implementation resyncing them would.
        if let Some(payload) = &last_good {
            syncs += 1;
            apply_reordered(payload, syncs % 2 == 1);
        }
        std::thread::sleep(period);
    }
}

/// Restores `payload` with its RETURN rules reversed (or not), then makes sure of the jump.
fn apply_reordered(payload: &str, reverse: bool) {
    use std::io::Write as _;
    let lines: Vec<&str> = payload.lines().collect();
    let returns: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.ends_with("-j RETURN"))
        .collect();
    let mut ordered: Vec<&str> = returns.clone();
    if reverse {
        ordered.reverse();
    }
    let mut next = ordered.into_iter();
    let text: String = lines
        .iter()
        .map(|l| match l.ends_with("-j RETURN") {
            true => next.next().unwrap_or(l),
            false => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let mut restore = Command::new("iptables-restore")
        .args(["-w", "5", "--noflush"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("running iptables-restore");
    restore
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("writing the payload");
    let _ = restore.wait();
    let jump: Vec<&str> = JUMP.iter().copied().chain(["IP-MASQ-AGENT"]).collect();
    let present = Command::new("iptables")
        .args(["-w", "5", "-t", "nat", "-C"])
        .args(&jump)
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        let _ = Command::new("iptables")
            .args(["-w", "5", "-t", "nat", "-A"])
            .args(&jump)
            .status();
    }
}
