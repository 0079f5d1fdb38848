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

/// `--dry-run --datapath nftables` prints the script and touches nothing; the printed
/// script, applied by hand, gives exactly what `--once` gives.
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
        assert!(
            script.starts_with(&format!(
                "add table inet {TABLE}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n"
            )),
            "{script}"
        );
        assert!(script.contains("\t\t\t10.0.0.0/8,\n\t\t\t172.16.0.0/12,\n\t\t\t192.168.0.0/16,\n"));
        assert!(script.contains("\t\tmasquerade fully-random comment"));
        assert_eq!(ns.nft_tables(), "", "{}: dry run wrote nft", ns.backend);
        assert!(untouched(ns, false) && untouched(ns, true));

        ns.nft_script(&script);
        let by_hand = ns.nft_table(TABLE).unwrap();
        ns.nft(&["delete", "table", "inet", TABLE]);
        let cfg = ns.dir.path().join("absent");
        once(ns, &cfg, &[]);
        assert_eq!(ns.nft_table(TABLE).unwrap(), by_hand);

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
        assert!(text.contains("\tset nomasq-v6 {") && text.contains("ip6 daddr fe80::/10 return"));
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
