//! Issue 14's hardening, against the real binary in namespaces: stop and deadlines
//! interrupt any wait, a FIFO at the config path, a chain name iptables-restore cannot
//! take, immediate reload, and running with only NET_ADMIN and NET_RAW.

use crate::support::*;
use nix::sys::signal::Signal;
use std::path::Path;
use std::time::{Duration, Instant};

fn pid_alive(pid_file: &Path) -> bool {
    let pid = std::fs::read_to_string(pid_file).unwrap();
    Path::new(&format!("/proc/{}", pid.trim())).exists()
}

/// SIGTERM while `iptables-restore` hangs: the agent exits at once, kills the child, and
/// writes nothing afterwards.
pub fn sigterm_interrupts_a_hanging_restore() {
    each_backend(|ns| {
        let pid = ns.dir.path().join("restore.pid");
        ns.fake_tool(
            "iptables-restore",
            &format!("echo $$ > {}\nexec sleep 30", pid.display()),
        );
        let cfg = ns.config(b"resyncInterval: 100ms\n");
        let mut agent = ns.spawn_agent(&["--config", cfg.to_str().unwrap()]);
        wait_for("the hanging restore", Duration::from_secs(5), || {
            pid.exists()
        });
        std::thread::sleep(Duration::from_millis(50));
        let (status, err, took) = terminate(&mut agent, Signal::SIGTERM);
        assert!(status.success(), "{status:?}: {err}");
        assert!(took < Duration::from_millis(500), "exit took {took:?}");
        assert!(!pid_alive(&pid), "the hanging restore survived");
        assert!(untouched(ns, false), "rules written after SIGTERM");
    });
}

/// A restore that hangs once is killed at `--command-timeout`; the next round applies.
pub fn a_hanging_child_is_killed_at_its_deadline() {
    each_backend(|ns| {
        let once = ns.dir.path().join("hung-once");
        ns.fake_tool(
            "iptables-restore",
            &format!(
                "if [ -e {once} ]; then exec {multi} iptables-restore \"$@\"; fi\n\
                 touch {once}\nexec sleep 30",
                once = once.display(),
                multi = ns.multi
            ),
        );
        let cfg = ns.config(b"resyncInterval: 100ms\n");
        let start = Instant::now();
        let mut agent =
            ns.spawn_agent(&["--config", cfg.to_str().unwrap(), "--command-timeout=300ms"]);
        wait_for("rules after the deadline", Duration::from_secs(10), || {
            ns.save(false) == default_v4()
        });
        assert!(start.elapsed() >= Duration::from_millis(300));
        let (status, err, _) = terminate(&mut agent, Signal::SIGTERM);
        assert!(status.success());
        assert!(err.contains("did not finish within 300ms; killed"), "{err}");
    });
}

/// A FIFO at the config path is refused without blocking (no writer ever comes), the
/// error is logged once however many rounds pass, and SIGTERM stays prompt.
pub fn a_fifo_config_is_refused_without_blocking() {
    each_backend(|ns| {
        let fifo = ns.dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let mut agent = ns.spawn_agent(&["--config", fifo.to_str().unwrap()]);
        std::thread::sleep(Duration::from_millis(300));
        let (status, err, took) = terminate(&mut agent, Signal::SIGTERM);
        assert!(
            status.success() && took < Duration::from_millis(500),
            "{took:?}"
        );
        assert_eq!(
            err.matches("not a regular file (a FIFO)").count(),
            1,
            "{err}"
        );
        assert!(untouched(ns, false));
        let out = ns.agent(&["--once", "--config", fifo.to_str().unwrap()]);
        assert!(!out.status.success());
    });
}

/// A chain name iptables-restore cannot take fails at start, before anything is written
/// (`A"B` used to leave a POSTROUTING jump to an empty chain).
pub fn a_bad_masq_chain_is_refused_at_start() {
    each_backend(|ns| {
        let missing = ns.dir.path().join("absent");
        for chain in ["A\"B", "-X", "POSTROUTING", "A B", "", &"C".repeat(29)] {
            let out = ns.agent(&[
                "--once",
                "--config",
                missing.to_str().unwrap(),
                &format!("--masq-chain={chain}"),
            ]);
            assert_eq!(out.status.code(), Some(2), "{chain:?}: {out:?}");
            assert!(stderr(&out).contains("invalid --masq-chain"), "{out:?}");
            assert!(
                ns.save(false).lines().count() == 6,
                "{chain:?}: {}",
                ns.save(false)
            );
        }
        let ok = "C".repeat(28);
        let out = ns.agent(&[
            "--once",
            "--config",
            missing.to_str().unwrap(),
            &format!("--masq-chain={ok}"),
        ]);
        assert!(out.status.success(), "{out:?}");
    });
}

/// What reaches iptables is the parsed network: `10.0.0.0/08` installs `10.0.0.0/8` (its
/// text made every restore fail), an IPv4-mapped CIDR goes to the IPv4 table, IPv6 is
/// lower-cased; `010.0.0.0/8` (octal for iptables: 8.0.0.0/8) is refused, nothing written.
pub fn cidrs_reach_iptables_as_parsed() {
    each_backend(|ns| {
        let bad = ns.config(b"nonMasqueradeCIDRs: [010.0.0.0/8]\n");
        let out = ns.agent(&["--once", "--config", bad.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("\"010.0.0.0/8\" is not a valid CIDR"),
            "{out:?}"
        );
        assert!(untouched(ns, false));
        let cfg =
            ns.config(b"nonMasqueradeCIDRs: [10.0.0.0/08, '::ffff:172.16.0.0/108', 'FD00::/8']\n");
        let out = ns.agent(&["--once", "--config", cfg.to_str().unwrap(), "--enable-ipv6"]);
        assert!(out.status.success(), "{out:?}");
        let want = expected(
            "IP-MASQ-AGENT",
            &["169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12"],
            "MASQUERADE --random-fully",
        );
        assert_eq!(ns.save(false), want, "{}", ns.backend);
        assert!(ns.save(true).contains("-A IP-MASQ-AGENT -d fd00::/8 "));
    });
}
