//! The nftables datapath's full apply against the real kernel: the sets' elements go over
//! netlink (the difference from what the sets hold, or everything into empty sets), the
//! table lists exactly as nft's own transactions would have left it, and the check that
//! replaced the listing after a full apply (the generation's move plus a dump of the
//! table's chains and sets) still catches a foreign object inside the table.

use crate::support::*;

const TABLE: &str = "IP-MASQ-AGENT";

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// `--once --v=2 --datapath nftables` with IPv6; asserts success; returns its log.
fn once(ns: &Ns, cfg: &std::path::Path) -> String {
    let args = [
        "--once",
        "--v=2",
        "--enable-ipv6",
        "--datapath",
        "nftables",
        "--config",
        s(cfg),
    ];
    let out = ns.agent(&args);
    assert!(out.status.success(), "{out:?}");
    stderr(&out)
}

/// A config of `n` /24s (every other one: nothing merges), plus an open-ended prefix, a
/// single address and an IPv6 prefix, and `extra`.
fn config(n: usize, extra: &str) -> Vec<u8> {
    let mut text = format!("cidrLimit: {}\nnonMasqueradeCIDRs:\n", n + 10);
    for i in 0..n {
        text.push_str(&format!("  - 10.{}.{}.0/24\n", i / 128, (i % 128) * 2));
    }
    text.push_str("  - 240.0.0.0/4\n  - 192.0.2.7/32\n  - fd00::/8\n");
    text.push_str(extra);
    text.into_bytes()
}

/// Whether the log shows an `nft list table` run (the listing the full apply avoids).
fn listed(log: &str) -> bool {
    log.contains("command=nft list table")
}

/// A full apply writes the elements over netlink, in one transaction, without listing
/// the table; the result lists exactly as nft's own two transactions (the dry run) make
/// it. A restart over that table sends no element at all, and a changed config only the
/// difference.
pub fn a_full_apply_sends_the_elements_over_netlink() {
    each_backend(|ns| {
        if ns.backend != "nft" {
            return; // The iptables backend plays no part in the nftables datapath's sync.
        }
        let cfg = ns.config(&config(1000, ""));
        let log = once(ns, &cfg);
        assert!(
            log.contains("nft sets updated: 0 deleted, 1003 added in one transaction"),
            "{log}"
        );
        assert!(!listed(&log), "{log}");
        let by_agent = ns.nft_table(TABLE).expect("the table");
        assert!(by_agent.contains("240.0.0.0/4") && by_agent.contains("192.0.2.7"));

        // The same table written by nft from the dry run, in a table of its own name.
        let dry = ns.agent(&[
            "--dry-run",
            "--enable-ipv6",
            "--datapath",
            "nftables",
            "--config",
            s(&cfg),
        ]);
        assert!(dry.status.success(), "{dry:?}");
        ns.nft(&["delete", "table", "inet", TABLE]);
        ns.nft_script(&String::from_utf8(dry.stdout).unwrap());
        assert_eq!(ns.nft_table(TABLE).unwrap(), by_agent);

        // A restart over its own table: no element sent, nothing listed.
        let log = once(ns, &cfg);
        assert!(
            log.contains("nft sets already hold exactly the config's elements"),
            "{log}"
        );
        assert!(!listed(&log), "{log}");
        assert_eq!(ns.nft_table(TABLE).unwrap(), by_agent);

        // One CIDR more, one fewer (the single address): only those two.
        let changed = config(1000, "  - 198.51.100.0/24\n");
        let changed = String::from_utf8(changed)
            .unwrap()
            .replace("  - 192.0.2.7/32\n", "");
        std::fs::write(&cfg, changed).unwrap();
        let log = once(ns, &cfg);
        assert!(
            log.contains("nft sets updated: 1 deleted, 1 added in one transaction"),
            "{log}"
        );
        let listing = ns.nft_table(TABLE).unwrap();
        assert!(listing.contains("198.51.100.0/24") && !listing.contains("192.0.2.7"));

        // Elements the agent did not write, one of them not a prefix: the sets cannot be
        // read back as prefixes, so they are flushed and refilled.
        ns.nft(&[
            "add",
            "element",
            "inet",
            TABLE,
            "nomasq-v4",
            "{ 203.0.113.1-203.0.113.5 }",
        ]);
        let log = once(ns, &cfg);
        assert!(log.contains("nft sets flushed and refilled"), "{log}");
        let healed = ns.nft_table(TABLE).unwrap();
        assert!(!healed.contains("203.0.113."), "{healed}");
        assert_eq!(healed, listing);
    });
}

/// What the in-place update cannot remove, a chain and a set added by hand inside the
/// table, is caught by the check that replaced the listing, and the table is replaced.
pub fn a_foreign_object_is_caught_after_a_full_apply() {
    each_backend(|ns| {
        if ns.backend != "nft" {
            return;
        }
        let cfg = ns.config(&config(10, ""));
        once(ns, &cfg);
        let clean = ns.nft_table(TABLE).expect("the table");
        ns.nft(&["add", "chain", "inet", TABLE, "by-hand"]);
        ns.nft(&[
            "add",
            "set",
            "inet",
            TABLE,
            "by-hand-set",
            "{ type ipv4_addr; }",
        ]);
        let log = once(ns, &cfg);
        assert!(log.contains("nft table holds objects not ours"), "{log}");
        let after = ns.nft_table(TABLE).unwrap();
        assert!(!after.contains("by-hand"), "{after}");
        assert_eq!(after, clean);
        // And the next restart over the clean table needs no listing again.
        let log = once(ns, &cfg);
        assert!(!log.contains("not ours") && !listed(&log), "{log}");
    });
}
