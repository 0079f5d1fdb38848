//! The nftables datapath (`--datapath nftables`) against the real kernel, in namespaces:
//! what lands in the kernel, drift, bad configs, big lists, switching datapaths both ways
//! on both iptables backends, dry runs, and running without iptables on `PATH`.
//!
//! Each case runs once per iptables backend (`each_backend` puts that backend's
//! `iptables*` first on `PATH`): the nftables datapath itself does not use iptables, but it
//! removes the iptables datapath's rules through whichever iptables `PATH` resolves to.

use crate::support::*;

const TABLE: &str = "IP-MASQ-AGENT";

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// The two transactions of a `--dry-run` text, split at their `# transaction N of 2`
/// lines (each without its comment line); panics if the text is not of that form.
fn split_transactions(text: &str) -> (&str, &str) {
    let rest = text
        .strip_prefix("# transaction 1 of 2")
        .unwrap_or_else(|| panic!("no first transaction line: {text}"));
    let sets = &rest[rest.find('\n').expect("a line") + 1..];
    let second = sets
        .find("# transaction 2 of 2")
        .unwrap_or_else(|| panic!("no second transaction line: {text}"));
    let rules = &sets[second..];
    (
        &sets[..second],
        &rules[rules.find('\n').expect("a line") + 1..],
    )
}

/// `--once --datapath nftables` with `args`; asserts success.
fn once(ns: &Ns, cfg: &std::path::Path, args: &[&str]) -> String {
    let mut v = vec!["--once", "--datapath", "nftables", "--config", s(cfg)];
    v.extend_from_slice(args);
    let out = ns.agent(&v);
    assert!(out.status.success(), "{}: {args:?}: {out:?}", ns.backend);
    stderr(&out)
}

/// Applies a config twice (idempotent: the same listing, still one table), lists the
/// table as nft prints it, and checks it against a reviewed snapshot; nothing is written
/// to iptables.
pub fn once_applies_lists_as_expected_and_is_idempotent() {
    each_backend(|ns| {
        let cfg = ns.config(
            b"nonMasqueradeCIDRs: [10.0.0.0/8, 10.1.0.0/16, 10.0.0.0/8, 100.64.0.0/10, fd00::/8, 'fd00:1::/32', 2001:db8::/32]\n",
        );
        once(ns, &cfg, &["--enable-ipv6"]);
        let first = ns.nft_table(TABLE).expect("the table");
        once(ns, &cfg, &["--enable-ipv6"]);
        assert_eq!(ns.nft_table(TABLE).unwrap(), first, "{}", ns.backend);
        assert_eq!(
            ns.nft_tables().matches("table inet ").count(),
            1,
            "{}",
            ns.nft_tables()
        );
        insta::assert_snapshot!("nft_listing_v4_v6", first);
        assert!(
            untouched(ns, false) && untouched(ns, true),
            "{}",
            ns.backend
        );

        // Flags: the table and chain follow --masq-chain; --to-ports, no --random-fully,
        // IPv4 only. The old table stays (another name is another agent's).
        let cfg = ns.config(b"nonMasqueradeCIDRs: [192.168.0.0/16]\nmasqLinkLocal: true\n");
        once(
            ns,
            &cfg,
            &[
                "--masq-chain=MY-MASQ",
                "--to-ports",
                "1024-29999,32768-65535",
                "--random-fully=false",
            ],
        );
        insta::assert_snapshot!("nft_listing_flags", ns.nft_table("MY-MASQ").unwrap());
        assert_eq!(ns.nft_table(TABLE).unwrap(), first);
    });
}

/// `--dry-run --datapath nftables` prints the two transactions a sync sends, each after
/// its `# transaction N of 2` line, and touches nothing; the printed text, applied by hand
/// (whole, or as the two transactions in order), gives exactly what `--once` gives.
pub fn dry_run_prints_the_script_and_touches_nothing() {
    each_backend(|ns| {
        let missing = ns.dir.path().join("absent");
        let out = ns.agent(&[
            "--dry-run",
            "--datapath",
            "nftables",
            "--config",
            s(&missing),
        ]);
        assert!(out.status.success(), "{out:?}");
        let script = String::from_utf8(out.stdout).unwrap();
        let (sets, rules) = split_transactions(&script);
        assert!(
            sets.starts_with(&format!("add table inet {TABLE} {{")),
            "{script}"
        );
        assert!(
            sets.contains(&format!(
                "add element inet {TABLE} nomasq-v4 {{ 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 }}\n"
            )),
            "{script}"
        );
        assert!(!sets.contains("chain"), "{sets}");
        assert!(
            rules.contains(&format!("flush chain inet {TABLE} {TABLE}\n")),
            "{rules}"
        );
        assert!(
            rules.contains(" masquerade fully-random comment"),
            "{rules}"
        );
        // Never a delete: that is what made new flows miss a set at the commit.
        assert!(!script.contains("delete"), "{script}");
        assert_eq!(ns.nft_tables(), "", "{}: dry run wrote nft", ns.backend);
        assert!(untouched(ns, false) && untouched(ns, true));

        let cfg = ns.dir.path().join("absent");
        once(ns, &cfg, &[]);
        let by_agent = ns.nft_table(TABLE).unwrap();
        ns.nft(&["delete", "table", "inet", TABLE]);
        // The whole text as one script (the `#` lines are nft comments)...
        ns.nft_script(&script);
        assert_eq!(ns.nft_table(TABLE).unwrap(), by_agent);
        ns.nft(&["delete", "table", "inet", TABLE]);
        // ...and the two transactions one after the other, as the agent sends them.
        ns.nft_script(sets);
        ns.nft_script(rules);
        assert_eq!(ns.nft_table(TABLE).unwrap(), by_agent);
        // Re-applied over the table they made: still the same table (idempotent).
        ns.nft_script(sets);
        ns.nft_script(rules);
        assert_eq!(ns.nft_table(TABLE).unwrap(), by_agent);

        // IPv6, and the iptables datapath's dry run is unchanged by the flag's existence.
        let out = ns.agent(&[
            "--dry-run",
            "--datapath=nftables",
            "--config",
            s(&missing),
            "--enable-ipv6",
            "--random-fully=false",
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!(
                "add set inet {TABLE} nomasq-v6 {{ type ipv6_addr;"
            )) && text.contains("ip6 daddr fe80::/10 return"),
            "{text}"
        );
        assert!(!text.contains("fully-random"));
        let out = ns.agent(&[
            "--dry-run",
            "--datapath",
            "iptables",
            "--config",
            s(&missing),
        ]);
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("*nat\n:IP-MASQ-AGENT - [0:0]\n"));
        // A bad config: nothing printed, the same error as the iptables datapath's.
        let bad = ns.config(b"nonMasqueradeCIDRs: [10.0.0.1/8]\n");
        let out = ns.agent(&["--dry-run", "--datapath", "nftables", "--config", s(&bad)]);
        assert!(!out.status.success() && out.stdout.is_empty());
        assert!(stderr(&out).contains("is not a network address"), "{out:?}");
    });
}

/// A daemon on the nftables datapath heals every kind of drift at its next sync, keeps
/// the last good rules through a bad config (and does not re-sync then, as the iptables
/// datapath), applies the fixed config, and leaves its rules on SIGTERM.
pub fn daemon_heals_drift_and_keeps_last_good() {
    each_backend(|ns| {
        let cfg =
            ns.config(b"resyncInterval: 200ms\nnonMasqueradeCIDRs: [10.0.0.0/8, 172.16.0.0/12]\n");
        // The listing a good sync gives, from a --once in the same namespace.
        once(ns, &cfg, &[]);
        let good = ns.nft_table(TABLE).unwrap();
        ns.nft(&["delete", "table", "inet", TABLE]);

        let mut agent = ns.spawn_agent(&["--config", s(&cfg), "--datapath", "nftables", "--v=2"]);
        let long = std::time::Duration::from_secs(10);
        let healed = |what: &str| {
            wait_for(what, long, || ns.nft_table(TABLE).as_ref() == Some(&good));
        };
        healed("first sync");
        for (what, script) in [
            ("flushed chain", format!("flush chain inet {TABLE} {TABLE}")),
            ("deleted table", format!("delete table inet {TABLE}")),
            (
                "deleted set element",
                format!("delete element inet {TABLE} nomasq-v4 {{ 10.0.0.0/8 }}"),
            ),
            (
                "appended rule",
                format!("add rule inet {TABLE} {TABLE} ip daddr 8.8.8.8 return"),
            ),
            (
                "added set element",
                format!("add element inet {TABLE} nomasq-v4 {{ 8.8.8.0/24 }}"),
            ),
            (
                "chain added by hand",
                format!("add chain inet {TABLE} extra {{ type nat hook postrouting priority srcnat - 1; }}"),
            ),
        ] {
            {
                // The agent stopped meanwhile, so that no round heals it before we look.
                let _paused = pause(&agent);
                ns.nft_script(&script);
                assert_ne!(
                    ns.nft_table(TABLE).as_ref(),
                    Some(&good),
                    "{what} changed nothing"
                );
            }
            healed(&format!("heal after {what}"));
        }

        // A broken config: the last good rules stay, and no sync happens.
        ns.config(b"resyncInterval: 200ms\nnonMasqueradeCIDRs: [10.0.0.1/8]\n");
        std::thread::sleep(std::time::Duration::from_millis(800));
        assert_eq!(ns.nft_table(TABLE).unwrap(), good);
        ns.nft_script(&format!("flush chain inet {TABLE} {TABLE}"));
        std::thread::sleep(std::time::Duration::from_millis(800));
        assert!(
            !ns.nft_table(TABLE).unwrap().contains("masquerade"),
            "re-synced while invalid"
        );

        // Fixed: the new config applies.
        ns.config(
            b"resyncInterval: 200ms\nnonMasqueradeCIDRs: [192.168.0.0/16]\nmasqLinkLocal: true\n",
        );
        wait_for("new config", long, || {
            ns.nft_table(TABLE).is_some_and(|t| {
                t.contains("elements = { 192.168.0.0/16 }")
                    && t.contains("masquerade fully-random")
                    && !t.contains("169.254.0.0/16")
            })
        });
        let last = ns.nft_table(TABLE).unwrap();
        let (status, err, _) = terminate(&mut agent, nix::sys::signal::Signal::SIGTERM);
        assert!(status.success(), "{err}");
        assert!(err.contains("is not a network address"), "{err}");
        assert!(err.contains("datapath nftables, applied in "), "{err}");
        assert_eq!(ns.nft_table(TABLE).unwrap(), last, "rules left in place");
        assert!(untouched(ns, false));
    });
}

/// Duplicates, overlaps and adjacent networks (which nft refuses as they are in one
/// interval set) apply as their union; 0.0.0.0/0 swallows everything.
pub fn overlapping_and_duplicate_cidrs_apply() {
    each_backend(|ns| {
        let cfg = ns.config(
            b"nonMasqueradeCIDRs: [10.1.0.0/16, 10.0.0.0/8, 10.1.2.3/32, 10.0.0.0/8, 192.168.1.0/24, 192.168.0.0/24, 172.16.0.0/12, 172.16.0.0/12, fd00:1::/32, fd00::/8, 'fd00::/8']\n",
        );
        let err = once(ns, &cfg, &["--enable-ipv6"]);
        assert!(err.contains("synced: 11 nonMasqueradeCIDRs"), "{err}");
        let t = ns.nft_table(TABLE).unwrap();
        assert!(
            t.contains("elements = { 10.0.0.0/8, 172.16.0.0/12,\n\t\t\t     192.168.0.0/23 }"),
            "{t}"
        );
        assert!(t.contains("elements = { fd00::/8 }"), "{t}");
        let cfg = ns.config(b"nonMasqueradeCIDRs: [10.0.0.0/8, 0.0.0.0/0, 192.168.0.0/16]\n");
        once(ns, &cfg, &[]);
        let t = ns.nft_table(TABLE).unwrap();
        assert!(t.contains("elements = { 0.0.0.0/0 }"), "{t}");
    });
}

/// 10,000 CIDRs apply in one transaction (no timing asserted: docs/performance.md has
/// the figures), twice, and shrink back.
pub fn ten_thousand_cidrs_apply() {
    let mut text = String::from("cidrLimit: 10000\nnonMasqueradeCIDRs:\n");
    for i in 0..10_000 {
        // Every other /24, so nothing merges.
        text.push_str(&format!("  - 10.{}.{}.0/24\n", i / 128, (i % 128) * 2));
    }
    each_backend(|ns| {
        let cfg = ns.config(text.as_bytes());
        for _ in 0..2 {
            let err = once(ns, &cfg, &[]);
            assert!(err.contains("synced: 10000 nonMasqueradeCIDRs"), "{err}");
            let t = ns.nft_table(TABLE).unwrap();
            assert_eq!(t.matches("/24").count(), 10_000, "{}", ns.backend);
            assert!(t.contains("10.78.30.0/24") && !t.contains("10.78.32.0/24"));
        }
        let cfg = ns.config(b"nonMasqueradeCIDRs: [10.0.0.0/24]\n");
        once(ns, &cfg, &[]);
        assert!(ns
            .nft_table(TABLE)
            .unwrap()
            .contains("elements = { 10.0.0.0/24 }"));
    });
}

/// The iptables datapath's rules (ours, or the reference's: the same chain and jump) are
/// removed by the first nftables sync, after the nft table is in: IPv4 and IPv6, with
/// --masq-chain, the reference's old quoted-comment jump included; and the iptables
/// datapath removes the nft table after its own rules are in. Only one datapath's rules
/// are left either way. On both iptables backends.
pub fn switching_datapaths_leaves_one() {
    each_backend(|ns| {
        for chain in ["IP-MASQ-AGENT", "MY-MASQ"] {
            let masq_chain = format!("--masq-chain={chain}");
            let cfg = ns.config(b"nonMasqueradeCIDRs: [10.0.0.0/8, fd00::/8]\n");
            let iptables_once = || {
                let out = ns.agent(&["--once", "--config", s(&cfg), "--enable-ipv6", &masq_chain]);
                assert!(out.status.success(), "{out:?}");
                stderr(&out)
            };
            let jump = format!("-j {chain}");
            iptables_once();
            for v6 in [false, true] {
                assert!(ns.save(v6).contains(&jump), "{}", ns.save(v6));
            }
            // The reference v2.10-v2.12 jump, its comment in literal quotes, as well.
            ns.iptables(&[
                "-w", "5", "-t", "nat", "-A", "POSTROUTING", "-m", "comment", "--comment",
                &format!("\"ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom {chain} chain\""),
                "-m", "addrtype", "!", "--dst-type", "LOCAL", "-j", chain,
            ]);

            // iptables -> nftables.
            let err = once(ns, &cfg, &["--enable-ipv6", &masq_chain, "--v=2"]);
            assert!(ns.nft_table(chain).is_some(), "{}: {err}", ns.backend);
            for v6 in [false, true] {
                let save = ns.save(v6);
                assert!(
                    !save.contains(chain),
                    "{} v6={v6}: {save}\n{err}",
                    ns.backend
                );
            }
            let bin = "iptables:";
            assert!(
                err.contains(&format!("removed the other datapath's rules: {bin} 2 POSTROUTING jump(s) and chain {chain} (3 rules)")),
                "{err}"
            );
            assert!(
                err.contains(&format!("removed the other datapath's rules: ip6tables: 1 POSTROUTING jump(s) and chain {chain} (3 rules)")),
                "{err}"
            );
            // The next sync finds nothing to remove.
            let err = once(ns, &cfg, &["--enable-ipv6", &masq_chain]);
            assert!(!err.contains("removed the other datapath's rules"), "{err}");

            // nftables -> iptables.
            let err = iptables_once();
            assert!(ns.nft_table(chain).is_none(), "{}: {err}", ns.backend);
            assert!(
                err.contains(&format!(
                    "removed the other datapath's rules: nft table inet {chain}"
                )),
                "{err}"
            );
            for v6 in [false, true] {
                assert!(ns.save(v6).contains(&jump));
            }
            let err = iptables_once();
            assert!(!err.contains("removed the other datapath's rules"), "{err}");

            // A leftover chain without a jump goes too, and so do IPv6 leftovers when only
            // IPv4 is configured (they would masquerade what the table leaves alone).
            let cfg4 = ns.config(b"nonMasqueradeCIDRs: [10.0.0.0/8]\n");
            once(ns, &cfg4, &[&masq_chain]);
            ns.iptables(&["-w", "5", "-t", "nat", "-N", chain]);
            once(ns, &cfg4, &[&masq_chain]);
            assert!(!ns.save(false).contains(chain));
            let out = ns.run("ip6tables", &["-w", "5", "-t", "nat", "-N", chain]);
            assert!(out.status.success());
            once(ns, &cfg4, &[&masq_chain]);
            assert!(!ns.save(true).contains(chain));
            ns.nft(&["delete", "table", "inet", chain]);
        }
        // Another name's table and chain are another agent's: left alone.
        let cfg = ns.config(b"");
        once(ns, &cfg, &["--masq-chain=OTHER"]);
        let out = ns.agent(&["--once", "--config", s(&cfg)]);
        assert!(out.status.success());
        assert!(ns.nft_table("OTHER").is_some());
        once(ns, &cfg, &["--masq-chain=OTHER"]);
        assert!(ns.save(false).contains("-j IP-MASQ-AGENT"));
    });
}

/// A daemon on the nftables datapath removes iptables rules that reappear (a stale
/// DaemonSet pod of the reference, say) at every sync, and the reverse.
pub fn a_reappearing_leftover_is_removed_again() {
    each_backend(|ns| {
        let cfg = ns.config(b"resyncInterval: 200ms\n");
        let long = std::time::Duration::from_secs(10);
        let mut agent = ns.spawn_agent(&["--config", s(&cfg), "--datapath", "nftables"]);
        wait_for("first sync", long, || ns.nft_table(TABLE).is_some());
        for _ in 0..2 {
            // What the reference writes.
            let out = ns.agent(&["--once", "--config", s(&cfg)]);
            assert!(out.status.success(), "{out:?}");
            wait_for("the nft table back, the iptables rules gone", long, || {
                ns.nft_table(TABLE).is_some() && untouched(ns, false)
            });
        }
        let (status, _, _) = terminate(&mut agent, nix::sys::signal::Signal::SIGTERM);
        assert!(status.success());

        let mut agent = ns.spawn_agent(&["--config", s(&cfg)]);
        wait_for("iptables rules", long, || ns.save(false) == default_v4());
        for _ in 0..2 {
            // Its table goes in first; removing the iptables rules may then fail (the
            // daemon can re-add its jump between our `-D` and `-X`: EBUSY), which fails
            // that run but keeps the table, as documented.
            let out = ns.agent(&["--once", "--datapath", "nftables", "--config", s(&cfg)]);
            assert!(
                out.status.success()
                    || stderr(&out).contains("removing the other datapath's rules failed"),
                "{out:?}"
            );
            wait_for("the nft table gone again", long, || {
                ns.nft_table(TABLE).is_none() && ns.save(false) == default_v4()
            });
        }
        let (status, _, _) = terminate(&mut agent, nix::sys::signal::Signal::SIGTERM);
        assert!(status.success());
    });
}

/// No iptables on `PATH`: the nftables datapath works, says so once at debug level, and
/// is no error. Without nft on `PATH` the iptables datapath likewise.
pub fn works_without_the_other_datapaths_tools() {
    each_backend(|ns| {
        let only_nft = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(nft_binary().unwrap(), only_nft.path().join("nft")).unwrap();
        let cfg = ns.dir.path().join("absent");
        let out = ns
            .command(AGENT)
            .env("PATH", only_nft.path())
            .args([
                "--once",
                "--datapath",
                "nftables",
                "--config",
                s(&cfg),
                "--v=2",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let err = stderr(&out);
        for tool in ["iptables", "ip6tables"] {
            assert_eq!(
                err.matches(&format!("{tool} is not on PATH")).count(),
                1,
                "{err}"
            );
        }
        assert!(ns.nft_table(TABLE).is_some());
        // The iptables datapath without nft: works, and the table it cannot see stays.
        let out = ns
            .command(AGENT)
            .env("PATH", ns.bin.path())
            .args(["--once", "--config", s(&cfg), "--v=2"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(stderr(&out).contains("nft is not on PATH"), "{out:?}");
        assert_eq!(ns.save(false), default_v4());
        assert!(ns.nft_table(TABLE).is_some());
        // nftables datapath without nft: a failed sync naming nft.
        let out = ns
            .command(AGENT)
            .env("PATH", ns.bin.path())
            .args(["--once", "--datapath", "nftables", "--config", s(&cfg)])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(stderr(&out).contains("could not run nft"), "{out:?}");
    });
}

/// A `--masq-chain` nft cannot take as a bare name fails at start with the nftables
/// datapath (exit 2, nothing written); the iptables datapath still takes it.
pub fn a_masq_chain_nft_cannot_name_is_refused_at_start() {
    each_backend(|ns| {
        let cfg = ns.dir.path().join("absent");
        for chain in ["my-masq", "counter", "A$B", "A:B", "1X"] {
            let out = ns.agent(&[
                "--once",
                "--datapath=nftables",
                "--config",
                s(&cfg),
                &format!("--masq-chain={chain}"),
            ]);
            assert_eq!(out.status.code(), Some(2), "{chain}: {out:?}");
            assert!(stderr(&out).contains("for --datapath nftables"), "{out:?}");
            let out = ns.agent(&[
                "--dry-run",
                "--datapath=nftables",
                &format!("--masq-chain={chain}"),
            ]);
            assert_eq!(out.status.code(), Some(2), "{chain}: {out:?}");
        }
        assert_eq!(ns.nft_tables(), "");
        let out = ns.agent(&["--once", "--config", s(&cfg), "--masq-chain=my-masq"]);
        assert!(out.status.success(), "{out:?}");
        let out = ns.agent(&["--datapath=ebpf", "--dry-run"]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(stderr(&out).contains("is not a datapath (iptables or nftables)"));
    });
}
