//! Snapshot documents: normalisation, and comparison through insta.
//!
//! Normalisation removes what differs between machines but not between behaviours: the
//! `iptables-save` banner and dates, chain counters in `iptables-save`, the byte column of
//! `iptables -L -v` (TCP SYN sizes differ between kernels; packet counts do not), the
//! spelling of the `prot` column (numbers on iptables 1.8.9/1.8.10, names elsewhere: the
//! snapshots hold 1.8.9's numbers, with `0` as `all`), the blank `opt` column of
//! `ip6tables -L` on 1.8.7 (`--` from 1.8.9 on), column padding, and "legacy tables
//! present" warnings. docs/iptables-versions.md lists every difference between versions.

use std::path::Path;

/// Normalises `iptables-save` output.
pub fn normalize_save(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let line = match line.strip_prefix(':') {
            // ":CHAIN POLICY [p:b]" -> ":CHAIN POLICY"
            Some(rest) => {
                let mut parts: Vec<&str> = rest.split_whitespace().collect();
                if parts.last().is_some_and(|p| p.starts_with('[')) {
                    parts.pop();
                }
                format!(":{}", parts.join(" "))
            }
            None => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Normalises `iptables -L <chain> -n -v -x` output.
pub fn normalize_listing(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut cols: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with("Chain ") {
            out.push_str(&cols.join(" "));
        } else if cols.first() == Some(&"pkts") {
            cols.remove(1); // "bytes"
            out.push_str(&cols.join(" "));
        } else if cols.len() >= 4 && cols[0].parse::<u64>().is_ok() {
            cols.remove(1); // the byte count
            let prot = prot_as_1_8_9(cols[2]);
            cols[2] = &prot;
            if opt_column_missing(&cols) {
                cols.insert(3, "--");
            }
            out.push_str(&cols.join(" "));
        } else {
            out.push_str(&cols.join(" "));
        }
        out.push('\n');
    }
    out
}

/// The `prot` column as iptables 1.8.9 prints it with `-n` (the snapshots' spelling), then
/// `0` as `all`. 1.8.9 (and 1.8.10) print the protocol number (`6`, `0`); 1.8.7 and 1.8.11
/// print the name of xtables' own protocol table (`tcp`, `all`): the same rule either way.
fn prot_as_1_8_9(prot: &str) -> String {
    let (bang, name) = match prot.strip_prefix('!') {
        Some(rest) => ("!", rest),
        None => ("", prot),
    };
    // xtables_chain_protos of libxtables (1.8.7 and 1.8.11 alike), without `all`.
    let number = match name {
        "0" => "all",
        "tcp" => "6",
        "udp" => "17",
        "sctp" => "132",
        "udplite" => "136",
        "icmp" => "1",
        "icmpv6" | "ipv6-icmp" => "58",
        "esp" => "50",
        "ah" => "51",
        "mh" | "ipv6-mh" => "135",
        other => other,
    };
    format!("{bang}{number}")
}

/// Whether a rule line (byte count removed: pkts target prot opt in out source destination)
/// lacks the `opt` column: `ip6tables -L` of iptables 1.8.7 leaves it blank, 1.8.9 and
/// later print `--`. IPv4 always has it (`--`, `-f`, `!f`); a line without it has its
/// source address where `out` would be.
fn opt_column_missing(cols: &[&str]) -> bool {
    let is_opt = |c: &str| matches!(c, "--" | "-f" | "!f");
    let is_ipv6 = |c: &str| {
        let c = c.strip_prefix('!').unwrap_or(c);
        let addr = c.split_once('/').map_or(c, |(a, _)| a);
        addr.parse::<std::net::Ipv6Addr>().is_ok()
    };
    cols.len() >= 7 && !is_opt(cols[3]) && is_ipv6(cols[5]) && is_ipv6(cols[6])
}

/// A unified diff of expected vs actual, for failure messages.
pub fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("snapshot", "actual")
        .to_string()
}

/// Compares `doc` with `<dir>/<name>.snap` through insta (which writes `.snap.new` or
/// accepts per `INSTA_UPDATE`). Returns a message with the diff on mismatch.
pub fn assert_document(dir: &Path, name: &str, description: &str, doc: &str) -> Result<(), String> {
    let path = dir.join(format!("{name}.snap"));
    let stored = crate::document::stored_body(&path);
    let expected = stored.as_deref().unwrap_or("");
    if stored.is_some() && expected.trim_end() == doc.trim_end() {
        return Ok(());
    }
    let message = match &stored {
        Some(expected) => format!(
            "snapshot {} differs:\n{}",
            path.display(),
            diff(expected, doc)
        ),
        None => format!(
            "snapshot {} does not exist yet; actual:\n{doc}",
            path.display()
        ),
    };
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(description);
    settings.set_omit_expression(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name.to_string(), doc));
    }));
    match result {
        // insta accepted it (INSTA_UPDATE=always or force-pass): report what happened.
        Ok(()) => {
            eprintln!("note: {name}: snapshot written by insta (INSTA_UPDATE)");
            Ok(())
        }
        Err(_) => Err(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_loses_banners_and_counters_only() {
        let raw = "# Generated by iptables-save v1.8.9 on Wed Nov 25 15:37:35 2026\n*nat\n:POSTROUTING ACCEPT [3:180]\n:X - [0:0]\n-A X -d 10.0.0.0/8 -j RETURN\nCOMMIT\n# Completed on Wed\n";
        assert_eq!(
            normalize_save(raw),
            "*nat\n:POSTROUTING ACCEPT\n:X -\n-A X -d 10.0.0.0/8 -j RETURN\nCOMMIT\n"
        );
    }

    #[test]
    fn listing_keeps_packets_drops_bytes_and_prot_spelling() {
        let raw = "Chain X (1 references)\n    pkts      bytes target     prot opt in     out     source               destination         \n       3      180 RETURN     0    --  *      *       0.0.0.0/0            10.0.0.0/8           /* c */\n";
        assert_eq!(
            normalize_listing(raw),
            "Chain X (1 references)\npkts target prot opt in out source destination\n3 RETURN all -- * * 0.0.0.0/0 10.0.0.0/8 /* c */\n"
        );
    }

    // What each version prints for the same rules (captured with the trees of
    // scripts/iptables-version.sh, legacy and nft alike): `iptables -t nat -L IP-MASQ-AGENT
    // -n -v -x` after `--to-ports 1024-29999 --random-fully -p tcp` (and sctp), and the
    // same from ip6tables. 1.8.9's is what the snapshots hold.
    const V4_1_8_9: &str = "Chain IP-MASQ-AGENT (1 references)
    pkts      bytes target     prot opt in     out     source               destination         
       0        0 RETURN     0    --  *      *       0.0.0.0/0            10.0.0.0/8           /* ip-masq-agent: local traffic is not subject to MASQUERADE */
       0        0 MASQUERADE  6    --  *      *       0.0.0.0/0            0.0.0.0/0            /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ masq ports: 1024-29999 random-fully
       0        0 MASQUERADE  132  --  *      *       0.0.0.0/0            0.0.0.0/0            /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ masq ports: 1024-29999 random-fully
       0        0 MASQUERADE  0    --  *      *       0.0.0.0/0            0.0.0.0/0            /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ random-fully
";
    // 1.8.7 and 1.8.11 print the same IPv4 listing.
    const V4_1_8_7_AND_1_8_11: &str = "Chain IP-MASQ-AGENT (1 references)
    pkts      bytes target     prot opt in     out     source               destination         
       0        0 RETURN     all  --  *      *       0.0.0.0/0            10.0.0.0/8           /* ip-masq-agent: local traffic is not subject to MASQUERADE */
       0        0 MASQUERADE  tcp  --  *      *       0.0.0.0/0            0.0.0.0/0            /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ masq ports: 1024-29999 random-fully
       0        0 MASQUERADE  sctp --  *      *       0.0.0.0/0            0.0.0.0/0            /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ masq ports: 1024-29999 random-fully
       0        0 MASQUERADE  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ random-fully
";
    const V6_1_8_9: &str = "Chain IP-MASQ-AGENT (1 references)
    pkts      bytes target     prot opt in     out     source               destination         
       0        0 RETURN     0    --  *      *       ::/0                 fe80::/10            /* ip-masq-agent: local traffic is not subject to MASQUERADE */
       0        0 MASQUERADE  6    --  *      *       ::/0                 ::/0                 /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ masq ports: 1024-29999 random-fully
       0        0 MASQUERADE  132  --  *      *       ::/0                 ::/0                 /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ masq ports: 1024-29999 random-fully
       0        0 MASQUERADE  0    --  *      *       ::/0                 ::/0                 /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ random-fully
";
    const V6_1_8_7: &str = "Chain IP-MASQ-AGENT (1 references)
    pkts      bytes target     prot opt in     out     source               destination         
       0        0 RETURN     all      *      *       ::/0                 fe80::/10            /* ip-masq-agent: local traffic is not subject to MASQUERADE */
       0        0 MASQUERADE  tcp      *      *       ::/0                 ::/0                 /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ masq ports: 1024-29999 random-fully
       0        0 MASQUERADE  sctp     *      *       ::/0                 ::/0                 /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ masq ports: 1024-29999 random-fully
       0        0 MASQUERADE  all      *      *       ::/0                 ::/0                 /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ random-fully
";
    const V6_1_8_11: &str = "Chain IP-MASQ-AGENT (1 references)
    pkts      bytes target     prot opt in     out     source               destination         
       0        0 RETURN     all  --  *      *       ::/0                 fe80::/10            /* ip-masq-agent: local traffic is not subject to MASQUERADE */
       0        0 MASQUERADE  tcp  --  *      *       ::/0                 ::/0                 /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ masq ports: 1024-29999 random-fully
       0        0 MASQUERADE  sctp --  *      *       ::/0                 ::/0                 /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ masq ports: 1024-29999 random-fully
       0        0 MASQUERADE  all  --  *      *       ::/0                 ::/0                 /* ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain) */ random-fully
";

    #[test]
    fn protocol_names_of_1_8_7_and_1_8_11_read_as_1_8_9_numbers() {
        let expected = normalize_listing(V4_1_8_9);
        assert!(expected.contains("\n0 MASQUERADE 6 -- * *"), "{expected}");
        assert!(expected.contains("\n0 MASQUERADE 132 -- * *"), "{expected}");
        assert!(expected.contains("\n0 RETURN all -- * *"), "{expected}");
        assert_eq!(normalize_listing(V4_1_8_7_AND_1_8_11), expected);
    }

    #[test]
    fn ip6tables_1_8_7_blank_opt_column_reads_as_dashes() {
        let expected = normalize_listing(V6_1_8_9);
        assert!(
            expected.contains("\n0 RETURN all -- * * ::/0 fe80::/10 /*"),
            "{expected}"
        );
        assert_eq!(normalize_listing(V6_1_8_7), expected);
        assert_eq!(normalize_listing(V6_1_8_11), expected);
    }

    #[test]
    fn protocol_spelling_keeps_negation_and_what_it_does_not_know() {
        assert_eq!(prot_as_1_8_9("!tcp"), "!6");
        assert_eq!(prot_as_1_8_9("!6"), "!6");
        assert_eq!(prot_as_1_8_9("ipv6-icmp"), "58");
        assert_eq!(prot_as_1_8_9("icmpv6"), "58");
        assert_eq!(prot_as_1_8_9("0"), "all");
        assert_eq!(prot_as_1_8_9("all"), "all");
        assert_eq!(prot_as_1_8_9("47"), "47");
    }

    #[test]
    fn a_present_opt_column_is_never_doubled_and_ipv4_is_left_alone() {
        // IPv4 fragments (`-f`) and a negated out interface are real columns.
        let v4 = "       0        0 RETURN     all  -f  *      *       0.0.0.0/0            10.0.0.0/8\n";
        assert_eq!(
            normalize_listing(v4),
            "0 RETURN all -f * * 0.0.0.0/0 10.0.0.0/8\n"
        );
        let v6 =
            "       0        0 RETURN     all  --  *      !eth0   ::/0                 fe80::1\n";
        assert_eq!(
            normalize_listing(v6),
            "0 RETURN all -- * !eth0 ::/0 fe80::1\n"
        );
        let v6_old =
            "       0        0 RETURN     all      eth0   *       !fe80::1             ::/0\n";
        assert_eq!(
            normalize_listing(v6_old),
            "0 RETURN all -- eth0 * !fe80::1 ::/0\n"
        );
    }
}
