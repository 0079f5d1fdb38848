//! Deliberately wrong "implementations" for the runner's own tests and the guide's
//! known-failure walkthrough. The suite must fail against each, for the right reason:
//!
//! - `masq-wrong-agent masquerade-everything`: one MASQUERADE rule, no RETURNs, never
//!   reads its config;
//! - `masq-wrong-agent once AGENT ARGS...`: runs `AGENT --once ARGS...` (one sync) and
//!   then idles without ever re-reading the config;
//! - `masq-wrong-agent exit-after MILLIS AGENT ARGS...`: runs the agent, and exits with
//!   status 3 (the agent killed) after MILLIS milliseconds;
//! - `masq-wrong-agent drop-last-cidr CONFIG AGENT ARGS...`: every resync period reads
//!   CONFIG, drops the last entry of a `nonMasqueradeCIDRs` list of two or more, and runs
//!   `AGENT --once --config REWRITTEN ARGS...`: a subtle bug for `masq-generate`'s
//!   self-test to find on its own (conformance/tests/runner/generate_finds_bugs.rs);
//! - `masq-wrong-agent force-key KEY VALUE CONFIG AGENT ARGS...`: the same loop, with
//!   CONFIG's KEY (any case) set to VALUE (JSON): an implementation that ignores the key
//!   and always does what VALUE says, e.g. `masqLinkLocal true` never exempts link-local
//!   (conformance/tests/runner/features_attributed.rs);
//! - `masq-wrong-agent without-flag NAME AGENT ARGS...`: runs the agent without the flag
//!   `--NAME` (either form) and with `--random-fully=false`: its translated ports ignore
//!   `--to-ports` and `--random-fully` (conformance/tests/runner/ports_observed.rs);
//! - `masq-wrong-agent src-local AGENT ARGS...`: the agent's own rules, but the
//!   POSTROUTING jump tests the SOURCE for locality (`! --src-type LOCAL`) instead of the
//!   destination, a bug public nftables-based agents have shipped: pod flows are decided
//!   right, the node's own flows are never masqueraded (conformance/tests/runner/directions.rs).
//!   It runs `AGENT --once ARGS...` in a scratch network namespace (`unshare -n`),
//!   restores its nat tables here with the jump rewritten, and idles without re-reading
//!   the config.
//!
//! - `masq-wrong-agent nft FAULT CONFIG AGENT ARGS...`: a native nftables implementation
//!   built on the real agent's script: every resync period it reads CONFIG, runs
//!   `AGENT --dry-run --datapath nftables --config CONFIG ARGS...`, puts FAULT into the
//!   script and applies it with `nft -f -` (from PATH). FAULT is one of
//!   `no-verdict` (the non-masquerade set is looked up without `return`: every
//!   destination is masqueraded), `saddr-local` (the source, not the destination, is
//!   tested for locality), `append` (nothing is ever deleted or flushed: every sync adds
//!   another copy of its rules and the set keeps every element it ever had), or
//!   `apply-on-change` (the right script, applied only when the config's text changed:
//!   damage is never healed) (conformance/tests/runner/nftables_verdicts.rs).
//!
//! - `masq-wrong-agent gap MILLIS AGENT ARGS...`: a careless datapath switch: deletes
//!   the nftables table `inet IP-MASQ-AGENT` and flushes the iptables chain
//!   `IP-MASQ-AGENT` (whichever exist), waits MILLIS milliseconds with no rules at all,
//!   then runs the agent (conformance/tests/runner/nftables_verdicts.rs).
//!
//! - `masq-wrong-agent hostile-fork-bomb|hostile-memory-hog|hostile-output-flood AGENT
//!   ARGS...`: takes what the case's limits bound, then runs the agent: forks children
//!   that sleep until killed (at most 5000), touches memory in 16 MiB steps (at most
//!   4 GiB), or writes its output ignoring `SIGXFSZ` (at most 1 GiB), saying how far it
//!   got; the bounds keep a machine without limits alive (conformance/tests/runner/limits.rs).
//!
//! - `masq-wrong-agent coin-flip AGENT ARGS...`: a nondeterministic implementation: at
//!   each start a coin decides whether it first inserts `-d 10.96.0.10 -j MASQUERADE` at
//!   the top of POSTROUTING (the `rfc1918-10` destination is then masqueraded), and it
//!   then runs the agent; repeats of a case disagree in that destination's cells
//!   (conformance/tests/runner/unstable_cases.rs).
//! - `masq-wrong-agent slow-act|exit-after-bad|debounce|rewrite MILLIS CONFIG AGENT ARGS...`:
//!   faults of time (acting late, exiting some time after a bad config, never reading a
//!   config that keeps changing); see `timing`.
//!
//! It only ever runs as the implementation under test, inside the runner's sandbox.

#[path = "masq-wrong-agent/timing.rs"]
mod timing;

use std::process::{Command, ExitCode};
use std::time::Duration;

fn iptables(args: &[&str]) {
    let status = Command::new("iptables")
        .args(["-w", "5", "-t", "nat"])
        .args(args)
        .status()
        .expect("running iptables");
    assert!(status.success(), "iptables {args:?} failed");
}

/// Runs until killed, like a daemon.
fn idle() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn masquerade_everything() -> ! {
    iptables(&["-N", "IP-MASQ-AGENT"]);
    iptables(&["-A", "IP-MASQ-AGENT", "-j", "MASQUERADE"]);
    iptables(&[
        "-A",
        "POSTROUTING",
        "-m",
        "addrtype",
        "!",
        "--dst-type",
        "LOCAL",
        "-j",
        "IP-MASQ-AGENT",
    ]);
    idle()
}

/// The config with the last CIDR of a list of two or more dropped; anything that does
/// not parse as a mapping is passed on unchanged, for the agent to judge.
fn drop_last_cidr(text: &str) -> String {
    let Ok(serde_json::Value::Object(mut map)) = serde_saphyr::from_str::<serde_json::Value>(text)
    else {
        return text.to_string();
    };
    let key = map
        .keys()
        .rev()
        .find(|k| k.eq_ignore_ascii_case("nonMasqueradeCIDRs"))
        .cloned();
    if let Some(serde_json::Value::Array(list)) = key.and_then(|k| map.get_mut(&k)) {
        if list.len() >= 2 {
            list.pop();
        }
    }
    serde_json::to_string(&map).expect("JSON")
}

/// The resync period a config asks for (`resyncInterval`), at least 100 ms; 60 s when
/// it gives none or does not parse.
fn period_of(text: &str) -> Duration {
    serde_saphyr::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.as_object()?
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case("resyncInterval"))
                .and_then(|(_, v)| v.as_str().map(str::to_string))
        })
        .and_then(|t| masq_conformance::go_duration::GoDuration::parse(&t).ok())
        .map_or(Duration::from_secs(60), |d| {
            d.get().max(Duration::from_millis(100))
        })
}

/// The faults of the `nft` mode.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NftFault {
    NoVerdict,
    SaddrLocal,
    Append,
    ApplyOnChange,
}

impl NftFault {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "no-verdict" => NftFault::NoVerdict,
            "saddr-local" => NftFault::SaddrLocal,
            "append" => NftFault::Append,
            "apply-on-change" => NftFault::ApplyOnChange,
            _ => return None,
        })
    }

    /// The script with the fault in it.
    fn apply(self, script: &str) -> String {
        script
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                !(self == NftFault::Append
                    && (t.starts_with("delete table ") || t.starts_with("flush ")))
            })
            .map(|l| match self {
                NftFault::NoVerdict if l.contains("daddr @") => l.replacen(" return", "", 1) + "\n",
                NftFault::SaddrLocal => {
                    l.replace("fib daddr type local", "fib saddr type local") + "\n"
                }
                _ => format!("{l}\n"),
            })
            .collect()
    }
}

fn nft_loop(fault: NftFault, config: &str, agent: &str, args: &[String]) -> ! {
    let mut applied: Option<String> = None;
    // The last good config's period stays while the config is bad, as in the agent.
    let mut period = Duration::from_secs(60);
    loop {
        let text = match std::fs::read_to_string(config) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(String::new()),
            Err(_) => None, // unreadable: keep the last rules
        };
        if let Some(text) = text {
            let changed = applied.as_deref() != Some(text.as_str());
            let script = Command::new(agent)
                .args(["--dry-run", "--datapath", "nftables", "--config", config])
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
            if let Some(script) = script.filter(|_| changed || fault != NftFault::ApplyOnChange) {
                let script = fault.apply(&script);
                let ok = Command::new("nft")
                    .args(["-f", "-"])
                    .stdin(std::process::Stdio::piped())
                    .spawn()
                    .and_then(|mut c| {
                        use std::io::Write;
                        c.stdin
                            .take()
                            .expect("piped")
                            .write_all(script.as_bytes())?;
                        c.wait()
                    })
                    .is_ok_and(|s| s.success());
                eprintln!("masq-wrong-agent: applied the script with its fault: {ok}");
                if ok {
                    period = period_of(&text);
                    applied = Some(text);
                }
            }
        }
        std::thread::sleep(period);
    }
}

/// `force-key`: `text` with `key` (any case) set to `value` (a JSON literal), as an
/// implementation that ignores the key and always does what `value` says would behave.
fn force_key(text: &str, key: &str, value: &serde_json::Value) -> String {
    let mut map = match serde_saphyr::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(serde_json::Value::Null) => serde_json::Map::new(),
        _ => return text.to_string(),
    };
    map.retain(|k, _| !k.eq_ignore_ascii_case(key));
    map.insert(key.to_string(), value.clone());
    serde_json::to_string(&map).expect("JSON")
}

/// Every resync period: CONFIG rewritten by `rewrite`, then one sync of the agent on it.
fn rewrite_loop(config: &str, agent: &str, args: &[String], rewrite: &dyn Fn(&str) -> String) -> ! {
    let rewritten = std::path::Path::new("/etc/masq-wrong-agent/config");
    std::fs::create_dir_all(rewritten.parent().expect("a parent"))
        .expect("creating /etc/masq-wrong-agent");
    let mut period = Duration::from_secs(60);
    loop {
        let text = match std::fs::read(config) {
            Ok(bytes) => Some(match String::from_utf8(bytes) {
                Ok(t) => rewrite(&t),
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(String::new()),
            Err(_) => None, // unreadable: keep the last rules, as the agent would
        };
        if let Some(text) = text {
            std::fs::write(rewritten, &text).expect("writing the rewritten config");
            let ok = Command::new(agent)
                .args(["--once", "--config"])
                .arg(rewritten)
                .args(args)
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                period = period_of(&text);
            }
        }
        std::thread::sleep(period);
    }
}

/// `src-local`: see the module comment. The agent syncs once in a scratch network
/// namespace of its own (`unshare -n`, inside the sandbox's node); its nat tables are
/// saved there, the jump rewritten, and restored here in one `iptables-restore` per
/// family, so the node never holds the right jump, not even for a moment.
fn src_local(agent: &str, args: &[String]) -> ! {
    let script = r#"set -e; "$0" --once "$@" >&2; echo '# v4'; iptables-save -t nat; echo '# v6'; if command -v ip6tables-save >/dev/null; then ip6tables-save -t nat; fi"#;
    let out = Command::new("unshare")
        .args(["-n", "--", "sh", "-c", script, agent])
        .args(args)
        .output()
        .expect("running unshare -n");
    assert!(out.status.success(), "the agent's one sync failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("iptables-save prints text");
    let (v4, v6) = text.split_once("# v6\n").expect("both tables were saved");
    for (tool, saved) in [("iptables-restore", v4), ("ip6tables-restore", v6)] {
        if !saved.contains("*nat") {
            continue;
        }
        let rewritten: String = saved
            .lines()
            .map(|l| {
                if l.starts_with("-A POSTROUTING ") {
                    l.replace("! --dst-type LOCAL", "! --src-type LOCAL")
                } else {
                    l.to_string()
                }
            })
            .map(|l| l + "\n")
            .collect();
        let mut child = Command::new(tool)
            .args(["-w", "5"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("running iptables-restore");
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(rewritten.as_bytes())
            .expect("writing the rules");
        assert!(
            child.wait().expect("iptables-restore").success(),
            "{tool} failed"
        );
    }
    eprintln!("masq-wrong-agent: one sync, POSTROUTING jump tests ! --src-type LOCAL");
    idle()
}

/// Takes what a limit bounds, then execs the agent (if it is still alive).
fn hostile(mode: &str, agent: &str, args: &[String]) -> ExitCode {
    use nix::libc;
    use std::io::Write as _;
    match mode {
        "hostile-fork-bomb" => {
            let mut forked = 0;
            let mut refused = 0;
            while forked + refused < 5000 && refused < 50 {
                // SAFETY: the child only calls pause and _exit.
                match unsafe { libc::fork() } {
                    0 => loop {
                        // SAFETY: as above.
                        unsafe { libc::pause() };
                    },
                    -1 => refused += 1,
                    _ => {
                        forked += 1;
                        // As it goes: the case may end (and kill it) before it is done.
                        if forked % 64 == 0 {
                            eprintln!("masq-wrong-agent: forked {forked} children");
                        }
                    }
                }
            }
            eprintln!("masq-wrong-agent: forked {forked} children; fork refused {refused} times");
        }
        "hostile-memory-hog" => {
            let mut held: Vec<Vec<u8>> = Vec::new();
            for step in 1..=256 {
                // Touched (not zero pages): every byte is really charged.
                held.push(vec![0x5a; 16 << 20]);
                eprintln!("masq-wrong-agent: holding {} MiB", step * 16);
            }
            eprintln!("masq-wrong-agent: held 4 GiB; no memory limit stopped it");
        }
        "hostile-output-flood" => {
            // SAFETY: ignoring a signal.
            unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
            let chunk = vec![b'x'; 64 << 10];
            let (mut written, mut refused) = (0u64, 0u64);
            let mut out = std::io::stdout().lock();
            for _ in 0..(1u64 << 30) / chunk.len() as u64 {
                match out.write(&chunk) {
                    Ok(n) => written += n as u64,
                    Err(_) => refused += 1,
                }
            }
            drop(out);
            // Said to the log only if there is room left: the test reads the log's size.
            let _ = writeln!(
                std::io::stderr(),
                "masq-wrong-agent: wrote {written} bytes; {refused} writes refused"
            );
        }
        _ => return ExitCode::from(2),
    }
    use std::os::unix::process::CommandExt as _;
    let e = Command::new(agent).args(args).exec();
    eprintln!("masq-wrong-agent: exec {agent}: {e}");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: masq-wrong-agent masquerade-everything | once AGENT ARGS... | exit-after MILLIS AGENT ARGS... | drop-last-cidr CONFIG AGENT ARGS... | force-key KEY VALUE CONFIG AGENT ARGS... | without-flag NAME AGENT ARGS... | src-local AGENT ARGS... | coin-flip AGENT ARGS... | nft no-verdict|saddr-local|append|apply-on-change CONFIG AGENT ARGS... | gap MILLIS AGENT ARGS... | slow-act|exit-after-bad|debounce|rewrite MILLIS CONFIG AGENT ARGS... | hostile-fork-bomb|hostile-memory-hog|hostile-output-flood AGENT ARGS...";
    match args.first().map(String::as_str) {
        Some("masquerade-everything") => masquerade_everything(),
        Some("once") if args.len() >= 2 => {
            let status = Command::new(&args[1])
                .arg("--once")
                .args(&args[2..])
                .status()
                .expect("running the agent");
            eprintln!("masq-wrong-agent: one sync ({status}); never reading the config again");
            idle()
        }
        Some("src-local") if args.len() >= 2 => src_local(&args[1], &args[2..]),
        Some("coin-flip") if args.len() >= 2 => {
            use std::hash::{BuildHasher as _, Hasher as _};
            // RandomState is seeded from the OS's randomness at each start.
            let heads = std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
                & 1
                == 1;
            if heads {
                eprintln!("masq-wrong-agent: coin-flip: heads: masquerading 10.96.0.10 too");
                iptables(&[
                    "-I",
                    "POSTROUTING",
                    "1",
                    "-d",
                    "10.96.0.10/32",
                    "-j",
                    "MASQUERADE",
                ]);
            } else {
                eprintln!("masq-wrong-agent: coin-flip: tails: the agent alone");
            }
            use std::os::unix::process::CommandExt as _;
            let e = Command::new(&args[1]).args(&args[2..]).exec();
            eprintln!("masq-wrong-agent: exec {}: {e}", args[1]);
            ExitCode::from(1)
        }
        Some(mode @ ("hostile-fork-bomb" | "hostile-memory-hog" | "hostile-output-flood"))
            if args.len() >= 2 =>
        {
            hostile(mode, &args[1], &args[2..])
        }
        Some("gap") if args.len() >= 3 => {
            let millis: u64 = args[1].parse().expect("MILLIS is a number");
            // Whichever exists; a missing table or chain is not an error here.
            let _ = Command::new("nft")
                .args(["delete", "table", "inet", "IP-MASQ-AGENT"])
                .status();
            let _ = Command::new("iptables")
                .args(["-w", "5", "-t", "nat", "-F", "IP-MASQ-AGENT"])
                .status();
            eprintln!("masq-wrong-agent: old rules removed; {millis} ms without any");
            std::thread::sleep(Duration::from_millis(millis));
            let status = Command::new(&args[2])
                .args(&args[3..])
                .status()
                .expect("running the agent");
            ExitCode::from(status.code().unwrap_or(1) as u8)
        }
        Some("nft") if args.len() >= 4 => match NftFault::parse(&args[1]) {
            Some(fault) => nft_loop(fault, &args[2], &args[3], &args[4..]),
            None => {
                eprintln!("{usage}");
                ExitCode::from(2)
            }
        },
        Some("drop-last-cidr") if args.len() >= 3 => {
            rewrite_loop(&args[1], &args[2], &args[3..], &drop_last_cidr)
        }
        Some("force-key") if args.len() >= 5 => {
            let value: serde_json::Value = serde_json::from_str(&args[2]).unwrap_or_else(|e| {
                eprintln!(
                    "masq-wrong-agent force-key: VALUE {:?} is not JSON: {e}",
                    args[2]
                );
                std::process::exit(2)
            });
            let key = args[1].clone();
            rewrite_loop(&args[3], &args[4], &args[5..], &move |t: &str| {
                force_key(t, &key, &value)
            })
        }
        Some("without-flag") if args.len() >= 3 => {
            let flag = format!("--{}", args[1]);
            let mut rest = Vec::new();
            let mut skip_value = false;
            for a in &args[3..] {
                if skip_value {
                    skip_value = false;
                } else if *a == flag {
                    skip_value = true;
                } else if !a.starts_with(&format!("{flag}=")) && !a.starts_with("--random-fully") {
                    rest.push(a.clone());
                }
            }
            rest.push("--random-fully=false".into());
            let status = Command::new(&args[2])
                .args(&rest)
                .status()
                .expect("running the agent");
            ExitCode::from(status.code().unwrap_or(1) as u8)
        }
        Some(mode @ ("slow-act" | "exit-after-bad" | "debounce" | "rewrite"))
            if args.len() >= 4 =>
        {
            let millis: u64 = args[1].parse().expect("MILLIS is a number");
            let (config, agent, rest) = (&args[2], &args[3], &args[4..]);
            match mode {
                "slow-act" => timing::slow_act(millis, config, agent, rest),
                "exit-after-bad" => timing::exit_after_bad(millis, config, agent, rest),
                "rewrite" => timing::rewrite(millis, config, agent, rest),
                _ => timing::debounce(millis, config, agent, rest),
            }
        }
        Some("exit-after") if args.len() >= 3 => {
            let millis: u64 = args[1].parse().expect("MILLIS is a number");
            let mut agent = Command::new(&args[2])
                .args(&args[3..])
                .spawn()
                .expect("starting the agent");
            std::thread::sleep(Duration::from_millis(millis));
            let _ = agent.kill();
            let _ = agent.wait();
            eprintln!("masq-wrong-agent: exiting on purpose after {millis} ms");
            ExitCode::from(3)
        }
        _ => {
            eprintln!("{usage}");
            ExitCode::from(2)
        }
    }
}
