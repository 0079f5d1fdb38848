//! A deliberately wrong "implementation" for the runner's own tests: it masquerades every
//! destination (one MASQUERADE rule, no RETURNs) and never reads its config. The suite
//! must fail against it, naming the destinations whose outcome differs.

use std::process::Command;

fn iptables(args: &[&str]) {
    let status = Command::new("iptables")
        .args(["-w", "5", "-t", "nat"])
        .args(args)
        .status()
        .expect("running iptables");
    assert!(status.success(), "iptables {args:?} failed");
}

fn main() {
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
    // Run until killed, like a daemon.
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
