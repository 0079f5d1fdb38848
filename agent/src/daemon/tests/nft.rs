//! The nftables datapath's rounds against the fake backend: two in-place transactions,
//! the whole-table fallback, and no transaction at all when the table is as we left it.

use super::*;
use crate::datapath::iptables::{LOCAL_COMMENT, MASQ_COMMENT};
use crate::datapath::nftables::elements::SetEdit;

/// A round that applies: transaction 1 (sets), transaction 2 (rules), then the iptables
/// datapath's leftovers removed.
const ROUND_NFT: [&str; 4] = [
    "nft",
    "nft",
    "rm-iptables V4 IP-MASQ-AGENT",
    "rm-iptables V6 IP-MASQ-AGENT",
];

/// A round with nothing to apply: only the leftovers checked.
const ROUND_NFT_UNCHANGED: [&str; 2] = [
    "rm-iptables V4 IP-MASQ-AGENT",
    "rm-iptables V6 IP-MASQ-AGENT",
];

/// The listing nft 1.0.6 prints for the default config's table (captured in a namespace).
fn listing(elements: &str, extra_rule: &str) -> String {
    let owner = nftables::OWNER_COMMENT;
    format!(
        "table inet IP-MASQ-AGENT {{\n\tcomment \"{owner}\"\n\tset nomasq-v4 {{\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = {{ {elements} }}\n\t}}\n\n\tchain IP-MASQ-AGENT {{\n\t\tcomment \"{owner}\"\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tfib daddr type local return comment \"{}\"\n\t\tmeta nfproto ipv6 return comment \"{}\"\n\t\tip daddr 169.254.0.0/16 return comment \"{}\"\n\t\tip daddr @nomasq-v4 return comment \"{}\"\n\t\tmasquerade fully-random comment \"{}\"\n{extra_rule}\t}}\n}}\n",
        nftables::FIB_COMMENT,
        nftables::NO_IPV6_COMMENT,
        LOCAL_COMMENT,
        LOCAL_COMMENT,
        MASQ_COMMENT,
    )
}

const DEFAULT_ELEMENTS: &str = "10.0.0.0/8, 172.16.0.0/12,\n\t\t\t     192.168.0.0/16";

fn set_listing(s: &Setup, listing: Option<String>) {
    s.fake.0.lock().unwrap().listing = listing;
}

fn scripts(s: &Setup) -> Vec<String> {
    s.fake.0.lock().unwrap().scripts.clone()
}

#[test]
fn an_nftables_round_is_two_in_place_transactions_then_the_iptables_cleanup() {
    let mut s = setup_with(false, Datapath::Nftables);
    s.agent.sync().unwrap();
    // No --random-fully probe (that is an iptables question), no restore, no jump; the
    // iptables datapath's rules are removed for both families even without IPv6.
    assert_eq!(s.fake.take_calls(), ROUND_NFT);
    let applied = scripts(&s);
    // Sets first (created if missing, flushed, refilled), then the chain; never a delete.
    assert!(applied[0].contains("flush set inet IP-MASQ-AGENT nomasq-v4\n"));
    assert!(!applied[0].contains("chain"), "{}", applied[0]);
    assert!(applied[1].contains("flush chain inet IP-MASQ-AGENT IP-MASQ-AGENT\n"));
    assert!(applied[1].contains(" masquerade fully-random comment"));
    assert!(!applied.iter().any(|a| a.contains("delete")));
    // No listing to trust (the fake has no table): the next round applies again.
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT);
    assert!(s.fake.0.lock().unwrap().payloads.is_empty());
}

#[test]
fn an_unchanged_table_gets_no_transaction_and_drift_is_healed() {
    let mut s = setup_with(false, Datapath::Nftables);
    set_listing(&s, Some(listing(DEFAULT_ELEMENTS, "")));
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT);
    // Same config, same listing: nothing sent.
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    // A rule appended by hand: the listing differs, so the round applies. The listing
    // after the apply still holds the stray rule (the fake does not heal), so the table is
    // replaced whole, is still not trusted, and the next round applies again.
    set_listing(&s, Some(listing(DEFAULT_ELEMENTS, "\t\tcounter\n")));
    let replaced = ["nft", "nft", "nft", ROUND_NFT[2], ROUND_NFT[3]];
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), replaced);
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), replaced);
    // Healed (the kernel lists what we applied): trusted again, quiet again.
    set_listing(&s, Some(listing(DEFAULT_ELEMENTS, "")));
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT);
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    // The table deleted by hand: applied.
    set_listing(&s, None);
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT);
}

#[test]
fn a_new_config_applies_even_if_the_listing_is_unchanged() {
    let mut s = setup_with(false, Datapath::Nftables);
    set_listing(&s, Some(listing(DEFAULT_ELEMENTS, "")));
    s.agent.sync().unwrap();
    s.fake.take_calls();
    s.write("nonMasqueradeCIDRs: [100.64.0.0/10, 100.64.1.0/24]\n");
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls()[..2], ["nft", "nft"]);
    let n = scripts(&s).len();
    assert!(scripts(&s)[n - 2]
        .contains("add rule inet IP-MASQ-AGENT IP-MASQ-AGENT ip daddr @nomasq-v4 return"));
    let sets = &scripts(&s)[n - 3];
    assert!(sets.contains("add element inet IP-MASQ-AGENT nomasq-v4 { 100.64.0.0/10 }\n"));
    // The listing (still the default's elements) is not what that config means: the
    // table is replaced whole, not trusted, and the next round applies again.
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        ["nft", "nft", "nft", ROUND_NFT[2], ROUND_NFT[3]]
    );
}

#[test]
fn nftables_bad_config_keeps_the_last_good_script_and_touches_nothing() {
    let mut s = setup_with(true, Datapath::Nftables);
    s.write("nonMasqueradeCIDRs: [192.168.0.0/16]\n");
    s.agent.sync().unwrap();
    let good = s.fake.last_script();
    s.fake.take_calls();
    s.write("nonMasqueradeCIDRs: [10.0.0.1/8]\n");
    assert!(matches!(s.agent.sync(), Err(SyncError::Load(_))));
    assert!(s.fake.calls().is_empty());
    assert_eq!(s.fake.last_script(), good);
}

#[test]
fn a_failed_in_place_update_falls_back_to_replacing_the_table() {
    let mut s = setup_with(false, Datapath::Nftables);
    s.fake.fail("nft", 1);
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        [
            "nft",
            "nft",
            "rm-iptables V4 IP-MASQ-AGENT",
            "rm-iptables V6 IP-MASQ-AGENT"
        ]
    );
    let replace = s.fake.last_script();
    assert!(replace.starts_with("add table inet IP-MASQ-AGENT\ndelete table inet IP-MASQ-AGENT\n"));
}

#[test]
fn a_failed_nft_transaction_skips_the_cleanup_and_the_next_round_recovers() {
    let mut s = setup_with(false, Datapath::Nftables);
    // Transaction 1 and the fallback both fail.
    s.fake.fail("nft", 2);
    assert!(matches!(s.agent.sync(), Err(SyncError::Apply(_))));
    // The iptables rules are left alone while the nft ones are not in.
    assert_eq!(s.fake.take_calls(), ["nft", "nft"]);
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT);
}

fn set_generation(s: &Setup, generation: Option<u32>) {
    s.fake.0.lock().unwrap().generation = generation;
}

fn listings(s: &Setup) -> usize {
    std::mem::take(&mut s.fake.0.lock().unwrap().listings)
}

/// A first round with generation 7 and the table as meant: trusted, the generation kept.
fn trusted_at_generation_7() -> Setup {
    let s = setup_with(false, Datapath::Nftables);
    set_listing(&s, Some(listing(DEFAULT_ELEMENTS, "")));
    set_generation(&s, Some(7));
    let mut s = s;
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT);
    assert_eq!(listings(&s), 1);
    s
}

#[test]
fn the_same_generation_skips_even_the_listing() {
    let mut s = trusted_at_generation_7();
    for _ in 0..3 {
        s.agent.sync().unwrap();
        assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
        assert_eq!(listings(&s), 0);
    }
    // A new config applies whatever the generation says.
    s.write("masqLinkLocal: true\n");
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls()[..2], ["nft", "nft"]);
}

fn edits(s: &Setup) -> Vec<ElementEdit> {
    std::mem::take(&mut s.fake.0.lock().unwrap().edits)
}

#[test]
fn a_change_of_elements_alone_sends_only_those_in_one_transaction() {
    let mut s = trusted_at_generation_7();
    s.write("nonMasqueradeCIDRs: [10.0.0.0/8, 100.64.0.0/10]\n");
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        ["nft-elements", ROUND_NFT[2], ROUND_NFT[3]]
    );
    let net = |s: &str| s.parse().unwrap();
    assert_eq!(
        edits(&s),
        [ElementEdit {
            table: "IP-MASQ-AGENT".into(),
            generation: 7,
            sets: vec![SetEdit {
                set: "nomasq-v4".into(),
                delete: vec![net("172.16.0.0/12"), net("192.168.0.0/16")],
                add: vec![net("100.64.0.0/10")],
            }],
        }]
    );
    // Our commit moved the generation to 8, and nobody else's: 8 vouches for the new
    // table, nothing is listed or sent.
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    assert_eq!(listings(&s), 0);
}

#[test]
fn an_element_change_after_another_commit_is_vouched_for_by_a_listing() {
    let mut s = trusted_at_generation_7();
    s.write("nonMasqueradeCIDRs: [10.0.0.0/8, 172.16.0.0/12]\n");
    // Someone else committed: the listing (still ours) vouches, and generation 9 guards
    // the edit.
    set_generation(&s, Some(9));
    s.agent.sync().unwrap();
    assert_eq!(listings(&s), 1);
    assert_eq!(edits(&s)[0].generation, 9);
    // Another commit lands right after ours (11, not 10): the next round lists, and a
    // listing holding exactly the new elements and our rules is trusted.
    set_generation(&s, Some(11));
    set_listing(&s, Some(listing("10.0.0.0/8, 172.16.0.0/12", "")));
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        [
            "nft-elements",
            ROUND_NFT[2],
            ROUND_NFT[3],
            ROUND_NFT[2],
            ROUND_NFT[3]
        ]
    );
    assert_eq!(listings(&s), 1);
    s.agent.sync().unwrap();
    assert_eq!(listings(&s), 0);
}

#[test]
fn a_refused_element_change_falls_back_to_the_two_transactions() {
    let mut s = trusted_at_generation_7();
    s.write("nonMasqueradeCIDRs: [10.0.0.0/8]\n");
    set_listing(&s, Some(listing("10.0.0.0/8", "")));
    s.fake.fail("nft-elements", 1);
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        ["nft-elements", "nft", "nft", ROUND_NFT[2], ROUND_NFT[3]]
    );
    assert!(edits(&s).is_empty());
}

#[test]
fn another_generation_with_the_same_listing_sends_nothing_and_keeps_the_new_generation() {
    let mut s = trusted_at_generation_7();
    // Someone committed something else (another table): the listing is compared once.
    set_generation(&s, Some(8));
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    assert_eq!(listings(&s), 1);
    // Generation 8 is now the one vouched for: no listing any more.
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    assert_eq!(listings(&s), 0);
}

#[test]
fn another_generation_with_another_listing_heals() {
    let mut s = trusted_at_generation_7();
    set_generation(&s, Some(8));
    set_listing(&s, Some(listing("10.0.0.0/8", "")));
    s.agent.sync().unwrap();
    // Elements missing: the in-place transactions; the fake still lists the drift, so
    // the table is replaced whole (listed before and after the replacement).
    assert_eq!(
        s.fake.take_calls(),
        ["nft", "nft", "nft", ROUND_NFT[2], ROUND_NFT[3]]
    );
    assert_eq!(listings(&s), 3);
    // Healed: trusted again at the generation read before the healthy listing.
    set_listing(&s, Some(listing(DEFAULT_ELEMENTS, "")));
    set_generation(&s, Some(9));
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT);
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    assert_eq!(listings(&s), 1);
}

#[test]
fn an_unreadable_generation_lists_every_round_as_before() {
    let mut s = setup_with(false, Datapath::Nftables);
    set_listing(&s, Some(listing(DEFAULT_ELEMENTS, "")));
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT);
    listings(&s);
    for _ in 0..2 {
        s.agent.sync().unwrap();
        assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
        assert_eq!(listings(&s), 1);
    }
    // Drift is still seen through the listing alone.
    set_listing(&s, None);
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT);
}
