//! The cases: each runs the real binary once per backend, in fresh namespaces.

use crate::support::*;
use nix::sched::{unshare, CloneFlags};
use std::time::{Duration, Instant};

/// Needs no root: a thread that did not unshare shares the main thread's namespace.
pub fn guard_refuses_the_initial_namespace() {
    assert!(!thread_is_isolated());
    let res = std::thread::spawn(thread_is_isolated).join().unwrap();
    assert!(!res);
}

/// The other half: a thread that did unshare is accepted.
pub fn guard_accepts_an_unshared_thread() {
    let res = std::thread::spawn(|| {
        unshare(CloneFlags::CLONE_NEWNET).unwrap();
        thread_is_isolated()
    })
    .join()
    .unwrap();
    assert!(res);
}

pub fn once_with_no_file_applies_defaults_v4_and_v6_idempotently() {
    each_backend(|ns| {
        let missing = ns.dir.path().join("absent");
        let missing = missing.to_str().unwrap();
        for _ in 0..2 {
            let out = ns.agent(&["--once", "--config", missing, "--enable-ipv6"]);
            assert!(out.status.success(), "{}: {out:?}", ns.backend);
        }
        assert_eq!(ns.save(false), default_v4(), "{}", ns.backend);
        assert_eq!(
            ns.save(true),
            expected("IP-MASQ-AGENT", &["fe80::/10"], "MASQUERADE --random-fully")
        );
    });
}

pub fn once_with_a_config_and_flags() {
    each_backend(|ns| {
        let cfg = ns.config(
            b"nonMasqueradeCIDRs: [100.64.0.0/10, fd00::/8, 10.0.0.0/8]\nmasqLinkLocal: yes\n",
        );
        let out = ns.agent(&[
            "-once",
            "--config",
            cfg.to_str().unwrap(),
            "--masq-chain=MY-MASQ",
            "--random-fully=false",
            "--enable-ipv6",
            "--to-ports",
            "2000-2999,5000",
            "-v=2",
            "--logtostderr",
        ]);
        assert!(out.status.success(), "{out:?}");
        let v4 = expected("MY-MASQ", &["100.64.0.0/10", "10.0.0.0/8"], "MASQUERADE");
        // The port rules come just before the final rule; iptables-save spells the
        // statistic match its own way, so check fragments and then the rest exactly.
        let save = ns.save(false);
        for proto in ["tcp", "udp", "sctp"] {
            assert!(
                save.contains(&format!("-p {proto} -m comment --comment \"{OUTBOUND}\" -m statistic --mode random --probability 0.99900")),
                "{}: {save}",
                ns.backend
            );
            assert!(save.contains(&format!(
                "-p {proto} -m comment --comment \"{OUTBOUND}\" -j MASQUERADE --to-ports 5000\n"
            )));
        }
        let without_ports: String = save
            .lines()
            .filter(|l| !l.contains("--to-ports"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(without_ports, v4);
        assert!(ns.save(true).contains("-A MY-MASQ -d fd00::/8"));
        assert!(ns.save(true).contains("-d fe80::/10"));
    });
}

/// Each bad config: `--once` fails with a message naming the key and value, and no rule
/// is written; `--dry-run` fails the same way and prints nothing.
pub fn bad_configs_are_rejected_and_write_nothing() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not network", b"nonMasqueradeCIDRs: [10.0.0.1/8]".to_vec(), "nonMasqueradeCIDRs[0]: \"10.0.0.1/8\" is not a network address (did you mean 10.0.0.0/8?)"),
        ("unparsable", b"nonMasqueradeCIDRs: [10.0.0.0/8, banana]".to_vec(), "nonMasqueradeCIDRs[1]: \"banana\" is not a valid CIDR"),
        ("ipv6 not enabled", b"nonMasqueradeCIDRs: [fd00::/8]".to_vec(), "nonMasqueradeCIDRs[0]: \"fd00::/8\" is an IPv6 CIDR but IPv6 is not enabled"),
        ("limit", b"cidrLimit: 1\nnonMasqueradeCIDRs: [1.0.0.0/8, 2.0.0.0/8]".to_vec(), "cidrLimit: 2 entries in nonMasqueradeCIDRs exceed cidrLimit 1"),
        ("bare number", b"resyncInterval: 30".to_vec(), "resyncInterval: 30 is not a duration string"),
        ("quoted bool", b"masqLinkLocal: \"true\"".to_vec(), "masqLinkLocal: \"true\" is a string, expected a boolean"),
        ("scalar for list", b"nonMasqueradeCIDRs: 10.0.0.0/8".to_vec(), "nonMasqueradeCIDRs: \"10.0.0.0/8\" is a string, expected a list"),
        ("yaml syntax", b"nonMasqueradeCIDRs: [10.0.0.0/8\ncidrLimit: 3\n".to_vec(), "YAML syntax error at line"),
        ("json syntax", b"{\"cidrLimit\": }".to_vec(), "JSON syntax error at line 1, column"),
        ("binary junk", vec![0x7f, b'E', b'L', b'F', 0, 0xff, 0xfe, 3], "not valid UTF-8"),
        ("10 MB", b"k: [\"x\", ".repeat(1_250_000), "YAML syntax error at line"),
    ];
    each_backend(|ns| {
        for (name, text, message) in &cases {
            let cfg = ns.config(text);
            let start = Instant::now();
            let out = ns.agent(&["--once", "--config", cfg.to_str().unwrap()]);
            assert!(!out.status.success(), "{name}: accepted");
            assert!(start.elapsed() < Duration::from_secs(20), "{name}: slow");
            let err = stderr(&out);
            assert!(err.contains(message), "{name}: {err}");
            assert!(untouched(ns, false), "{name}: rules written");
            let out = ns.agent(&["--dry-run", "--config", cfg.to_str().unwrap()]);
            assert!(!out.status.success() && out.stdout.is_empty(), "{name}");
            assert!(stderr(&out).contains(message), "{name}: {out:?}");
        }
        // Unreadable for root too: a directory, and a symlink loop (ELOOP).
        let dir = ns.dir.path().join("a-directory");
        std::fs::create_dir(&dir).unwrap();
        let out = ns.agent(&["--once", "--config", dir.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("cannot read config"), "{out:?}");
        let a = ns.dir.path().join("loop-a");
        let b = ns.dir.path().join("loop-b");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let out = ns.agent(&["--once", "--config", a.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("cannot read config"), "{out:?}");
        assert!(untouched(ns, false));
        assert!(untouched(ns, true));
    });
}

pub fn dry_run_prints_the_payload_and_touches_nothing() {
    each_backend(|ns| {
        let missing = ns.dir.path().join("absent");
        let out = ns.agent(&["--dry-run", "--config", missing.to_str().unwrap()]);
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!(
                "*nat\n:IP-MASQ-AGENT - [0:0]\n\
                 -A IP-MASQ-AGENT -m comment --comment \"{LOCAL}\" -d 169.254.0.0/16 -j RETURN\n\
                 -A IP-MASQ-AGENT -m comment --comment \"{LOCAL}\" -d 10.0.0.0/8 -j RETURN\n\
                 -A IP-MASQ-AGENT -m comment --comment \"{LOCAL}\" -d 172.16.0.0/12 -j RETURN\n\
                 -A IP-MASQ-AGENT -m comment --comment \"{LOCAL}\" -d 192.168.0.0/16 -j RETURN\n\
                 -A IP-MASQ-AGENT -m comment --comment \"{OUTBOUND}\" -j MASQUERADE --random-fully\n\
                 COMMIT\n"
            )
        );
        let out = ns.agent(&[
            "--dry-run",
            "--config",
            missing.to_str().unwrap(),
            "--enable-ipv6",
            "--random-fully=false",
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.matches("*nat").count(), 2);
        assert!(text.contains("-d fe80::/10"));
        assert!(!text.contains("--random-fully"));
        assert!(untouched(ns, false) && untouched(ns, true));
    });
}

pub fn flag_errors_exit_2() {
    each_backend(|ns| {
        for args in [
            &["--version"][..],
            &["--no-such-flag"],
            &["--random-fully=maybe"],
            &["--to-ports=0-10", "--dry-run"],
            &["--to-ports", "9-1", "--dry-run"],
        ] {
            let out = ns.agent(args);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
            assert!(!stderr(&out).is_empty());
        }
        assert!(untouched(ns, false));
    });
}

pub fn daemon_heals_keeps_last_good_and_stops_on_sigterm() {
    each_backend(|ns| {
        let cfg = ns.config(b"resyncInterval: 200ms\n");
        let mut agent = ns.spawn_agent(&["--config", cfg.to_str().unwrap(), "--v=2"]);
        let long = Duration::from_secs(10);
        wait_for("first sync", long, || ns.save(false) == default_v4());

        // Tampering heals on the next resync.
        ns.iptables(&["-w", "5", "-t", "nat", "-F", "IP-MASQ-AGENT"]);
        wait_for("heal after flush", long, || ns.save(false) == default_v4());
        ns.iptables(&["-w", "5", "-t", "nat", "-F", "POSTROUTING"]);
        wait_for("heal after jump removal", long, || {
            ns.save(false) == default_v4()
        });

        // A broken config: rules stay as they were (and are not re-synced).
        ns.config(b"resyncInterval: 200ms\nnonMasqueradeCIDRs: [10.0.0.1/8]\n");
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(ns.save(false), default_v4());
        ns.iptables(&["-w", "5", "-t", "nat", "-F", "IP-MASQ-AGENT"]);
        std::thread::sleep(Duration::from_millis(800));
        assert!(
            !ns.save(false).contains("-A IP-MASQ-AGENT"),
            "re-synced while invalid"
        );

        // Fixed: the new config applies.
        ns.config(
            b"resyncInterval: 200ms\nnonMasqueradeCIDRs: [192.168.0.0/16]\nmasqLinkLocal: true\n",
        );
        let want = expected(
            "IP-MASQ-AGENT",
            &["192.168.0.0/16"],
            "MASQUERADE --random-fully",
        );
        wait_for("new config", long, || ns.save(false) == want);

        // SIGTERM: prompt exit 0, rules left in place.
        let (status, err, _) = terminate(&mut agent, nix::sys::signal::Signal::SIGTERM);
        assert!(status.success(), "{status:?}");
        assert!(
            err.contains("nonMasqueradeCIDRs[0]: \"10.0.0.1/8\" is not a network address"),
            "{err}"
        );
        assert!(err.contains("synced: 1 nonMasqueradeCIDRs"), "{err}");
        assert_eq!(ns.save(false), want);
    });
}

/// docs/spec.md §7 "Where this project deliberately differs": a zero interval is warned about once
/// and re-syncs at most every 100 ms (the reference spins).
pub fn zero_interval_is_clamped() {
    each_backend(|ns| {
        let cfg = ns.config(b"resyncInterval: 0s\n");
        let mut agent = ns.spawn_agent(&["--config", cfg.to_str().unwrap()]);
        std::thread::sleep(Duration::from_millis(1000));
        let child = &mut agent.0;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        assert!(child.wait().unwrap().success());
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        let syncs = err.matches("synced:").count();
        assert!((2..=12).contains(&syncs), "{syncs} syncs in 1 s: {err}");
        assert_eq!(err.matches("is not positive").count(), 1, "{err}");
        assert_eq!(ns.save(false), default_v4());
    });
}
