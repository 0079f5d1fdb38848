//! Deliberately wrong "implementations" for the runner's own tests and the guide's
//! known-failure walkthrough. The suite must fail against each, for the right reason:
//!
//! - `masq-wrong-agent masquerade-everything`: one MASQUERADE rule, no RETURNs, never
//!   reads its config;
//! - `masq-wrong-agent once AGENT ARGS...`: runs `AGENT --once ARGS...` (one sync) and
//!   then idles without ever re-reading the config;
//! - `masq-wrong-agent exit-after MILLIS AGENT ARGS...`: runs the agent, and exits with
//!   status 3 (the agent killed) after MILLIS milliseconds.
//!
//! It only ever runs as the implementation under test, inside the runner's sandbox.

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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: masq-wrong-agent masquerade-everything | once AGENT ARGS... | exit-after MILLIS AGENT ARGS...";
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
