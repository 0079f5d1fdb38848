//! The nftables datapath's rounds against the fake backend: two in-place transactions
//! (the first one's elements over netlink when the generation can guard them), the
//! whole-table fallback, and no transaction at all when the table is as we left it.

use super::*;
use crate::datapath::iptables::{LOCAL_COMMENT, MASQ_COMMENT};
use crate::datapath::nftables::elements::SetEdit;
use crate::datapath::nftables::objects::TableObjects;

/// A round that applies without a generation to guard a netlink batch: the table and
/// sets (nft), transaction 1 (nft), transaction 2 (rules), then the iptables datapath's
/// leftovers removed.
const ROUND_NFT: [&str; 5] = [
    "nft",
    "nft",
    "nft",
    "rm-iptables V4 IP-MASQ-AGENT",
    "rm-iptables V6 IP-MASQ-AGENT",
];

/// The same with a generation: the sets' elements flushed and refilled in one netlink
/// batch between the two nft transactions.
const ROUND_NFT_NETLINK: [&str; 5] = [
    "nft",
    "nft-elements",
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
    // The table and sets (created if missing), the sets flushed and refilled, then the
    // chain; never a delete.
    assert!(applied[0].contains("add set inet IP-MASQ-AGENT nomasq-v4 "));
    assert!(!applied[0].contains("flush") && !applied[0].contains("element"));
    assert!(applied[1].contains("flush set inet IP-MASQ-AGENT nomasq-v4\n"));
    assert!(!applied[1].contains("chain"), "{}", applied[1]);
    assert!(applied[2].contains("flush chain inet IP-MASQ-AGENT IP-MASQ-AGENT\n"));
    assert!(applied[2].contains(" masquerade fully-random comment"));
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
    let replaced = ["nft", "nft", "nft", "nft", ROUND_NFT[3], ROUND_NFT[4]];
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
        ["nft", "nft", "nft", "nft", ROUND_NFT[3], ROUND_NFT[4]]
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

fn edits(s: &Setup) -> Vec<ElementEdit> {
    std::mem::take(&mut s.fake.0.lock().unwrap().edits)
}

/// The dump of a table holding our chain and set, plus `extra_chains`.
fn objects(extra_chains: &[&str]) -> TableObjects {
    let mut chains = vec!["IP-MASQ-AGENT".to_string()];
    chains.extend(extra_chains.iter().map(|c| c.to_string()));
    TableObjects {
        chains,
        sets: vec!["nomasq-v4".into()],
    }
}

fn set_objects(s: &Setup, objects: Option<TableObjects>) {
    s.fake.0.lock().unwrap().objects = objects;
}

/// The generation a first round at generation 7 leaves: 7, its refill 8, its rules 9.
const TRUSTED: u32 = 9;

/// A first round at generation 7 whose two commits were the only ones and whose table
/// holds only our objects: trusted at generation 9 without any listing.
fn trusted() -> Setup {
    let mut s = setup_with(false, Datapath::Nftables);
    set_listing(&s, Some(listing(DEFAULT_ELEMENTS, "")));
    set_generation(&s, Some(7));
    set_objects(&s, Some(objects(&[])));
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_NETLINK);
    assert_eq!(listings(&s), 0);
    s
}

#[test]
fn a_full_apply_is_vouched_for_by_the_generation_and_the_objects_without_a_listing() {
    let mut s = trusted();
    let net = |s: &str| s.parse().unwrap();
    // The sets' elements went in one batch at generation 7: flushed, then all added.
    assert_eq!(
        edits(&s),
        [ElementEdit {
            table: "IP-MASQ-AGENT".into(),
            generation: 7,
            sets: vec![SetEdit {
                set: "nomasq-v4".into(),
                flush: true,
                delete: vec![],
                add: vec![
                    net("10.0.0.0/8"),
                    net("172.16.0.0/12"),
                    net("192.168.0.0/16")
                ],
            }],
        }]
    );
    // nft applied the table and set alone, then the rules; not transaction 1.
    let applied = scripts(&s);
    assert_eq!(applied.len(), 2);
    assert!(!applied[0].contains("element") && !applied[0].contains("flush"));
    assert!(applied[1].contains("flush chain"));
    for _ in 0..2 {
        s.agent.sync().unwrap();
        assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
        assert_eq!(listings(&s), 0);
    }
}

#[test]
fn a_foreign_object_after_a_full_apply_replaces_the_table() {
    let mut s = setup_with(false, Datapath::Nftables);
    set_listing(&s, Some(listing(DEFAULT_ELEMENTS, "")));
    set_generation(&s, Some(7));
    set_objects(&s, Some(objects(&["by-hand"])));
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        [
            "nft",
            "nft-elements",
            "nft",
            "nft",
            ROUND_NFT[3],
            ROUND_NFT[4]
        ]
    );
    assert!(s
        .fake
        .last_script()
        .starts_with("add table inet IP-MASQ-AGENT\ndelete table inet IP-MASQ-AGENT\n"));
    // The replaced table is vouched for by its listing (read once), as before.
    assert_eq!(listings(&s), 1);
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    assert_eq!(listings(&s), 0);
}

#[test]
fn another_commit_during_a_full_apply_lets_the_listing_decide() {
    let mut s = setup_with(false, Datapath::Nftables);
    set_listing(&s, Some(listing(DEFAULT_ELEMENTS, "")));
    set_generation(&s, Some(7));
    set_objects(&s, Some(objects(&[])));
    // Someone commits between our batch and our rules: 10, not 9, after them.
    s.fake.0.lock().unwrap().foreign_commit_before = Some(2);
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_NETLINK);
    assert_eq!(listings(&s), 1);
    // The listing showed exactly ours: trusted at the generation read before it.
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    assert_eq!(listings(&s), 0);
}

#[test]
fn a_flush_of_sets_that_may_have_been_empty_lets_the_listing_decide() {
    let mut s = setup_with(false, Datapath::Nftables);
    s.write("nonMasqueradeCIDRs: []\n");
    set_generation(&s, Some(7));
    set_objects(&s, Some(objects(&[])));
    // The batch only flushes: a commit if the set held something, none if not, so the
    // generation's move proves nothing (the fake has no table: not trusted).
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_NETLINK);
    assert_eq!(edits(&s)[0].counts(), (0, 0));
    assert_eq!(listings(&s), 1);
}

fn set_contents(s: &Setup, contents: &[&str]) {
    let nets = contents.iter().map(|c| c.parse().unwrap()).collect();
    s.fake.0.lock().unwrap().contents = Some(nets);
}

#[test]
fn sets_that_already_hold_the_elements_get_no_batch() {
    let mut s = setup_with(false, Datapath::Nftables);
    set_generation(&s, Some(7));
    set_objects(&s, Some(objects(&[])));
    set_contents(&s, &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]);
    // A restart over its own table: the table and set, the rules, nothing else; only
    // transaction 2 moved the generation, which then vouches for the table.
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        ["nft", "nft", ROUND_NFT[3], ROUND_NFT[4]]
    );
    assert!(edits(&s).is_empty());
    assert_eq!(listings(&s), 0);
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    assert_eq!(listings(&s), 0);
}

#[test]
fn sets_holding_other_elements_get_only_the_difference() {
    let mut s = setup_with(false, Datapath::Nftables);
    set_generation(&s, Some(7));
    set_objects(&s, Some(objects(&[])));
    set_contents(&s, &["10.0.0.0/8", "100.64.0.0/10"]);
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_NETLINK);
    let net = |s: &str| s.parse().unwrap();
    assert_eq!(
        edits(&s)[0].sets,
        [SetEdit {
            set: "nomasq-v4".into(),
            flush: false,
            delete: vec![net("100.64.0.0/10")],
            add: vec![net("172.16.0.0/12"), net("192.168.0.0/16")],
        }]
    );
    assert_eq!(listings(&s), 0);
    // Someone commits between the read and the batch: the kernel refuses the batch (its
    // generation moved), and nft refills the sets.
    let mut s = setup_with(false, Datapath::Nftables);
    set_generation(&s, Some(7));
    set_objects(&s, Some(objects(&[])));
    set_contents(&s, &["10.0.0.0/8"]);
    s.fake.0.lock().unwrap().foreign_commit_before = Some(1);
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        [
            "nft",
            "nft-elements",
            "nft",
            "nft",
            ROUND_NFT[3],
            ROUND_NFT[4]
        ]
    );
}

#[test]
fn the_same_generation_skips_even_the_listing() {
    let mut s = trusted();
    for _ in 0..3 {
        s.agent.sync().unwrap();
        assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
        assert_eq!(listings(&s), 0);
    }
    // A new config applies whatever the generation says.
    s.write("masqLinkLocal: true\n");
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls()[..3], ROUND_NFT_NETLINK[..3]);
}

#[test]
fn a_change_of_elements_alone_sends_only_those_in_one_transaction() {
    let mut s = trusted();
    edits(&s);
    s.write("nonMasqueradeCIDRs: [10.0.0.0/8, 100.64.0.0/10]\n");
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        ["nft-elements", ROUND_NFT[3], ROUND_NFT[4]]
    );
    let net = |s: &str| s.parse().unwrap();
    assert_eq!(
        edits(&s),
        [ElementEdit {
            table: "IP-MASQ-AGENT".into(),
            generation: TRUSTED,
            sets: vec![SetEdit {
                set: "nomasq-v4".into(),
                flush: false,
                delete: vec![net("172.16.0.0/12"), net("192.168.0.0/16")],
                add: vec![net("100.64.0.0/10")],
            }],
        }]
    );
    // Our commit moved the generation by one, and nobody else's: it vouches for the new
    // table, nothing is listed or sent.
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    assert_eq!(listings(&s), 0);
}

#[test]
fn an_element_change_after_another_commit_is_vouched_for_by_a_listing() {
    let mut s = trusted();
    edits(&s);
    s.write("nonMasqueradeCIDRs: [10.0.0.0/8, 172.16.0.0/12]\n");
    // Someone else committed: the listing (still ours) vouches, and that generation
    // guards the edit.
    set_generation(&s, Some(TRUSTED + 2));
    s.agent.sync().unwrap();
    assert_eq!(listings(&s), 1);
    assert_eq!(edits(&s)[0].generation, TRUSTED + 2);
    // Another commit lands right after ours (two more, not one): the next round lists,
    // and a listing holding exactly the new elements and our rules is trusted.
    set_generation(&s, Some(TRUSTED + 5));
    set_listing(&s, Some(listing("10.0.0.0/8, 172.16.0.0/12", "")));
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        [
            "nft-elements",
            ROUND_NFT[3],
            ROUND_NFT[4],
            ROUND_NFT[3],
            ROUND_NFT[4]
        ]
    );
    assert_eq!(listings(&s), 1);
    s.agent.sync().unwrap();
    assert_eq!(listings(&s), 0);
}

#[test]
fn a_refused_element_change_falls_back_to_the_two_transactions_and_nft_refills() {
    let mut s = trusted();
    edits(&s);
    s.write("nonMasqueradeCIDRs: [10.0.0.0/8]\n");
    set_listing(&s, Some(listing("10.0.0.0/8", "")));
    // The change and then the refill batch refused: nft refills the set itself.
    s.fake.fail("nft-elements", 2);
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        [
            "nft-elements",
            "nft",
            "nft-elements",
            "nft",
            "nft",
            ROUND_NFT[3],
            ROUND_NFT[4]
        ]
    );
    assert!(edits(&s).is_empty());
    let applied = scripts(&s);
    assert!(applied[applied.len() - 2]
        .contains("add element inet IP-MASQ-AGENT nomasq-v4 { 10.0.0.0/8 }"));
    // Without our batch no generation arithmetic: the listing vouched for the table.
    assert_eq!(listings(&s), 1);
}

#[test]
fn another_generation_with_the_same_listing_sends_nothing_and_keeps_the_new_generation() {
    let mut s = trusted();
    // Someone committed something else (another table): the listing is compared once.
    set_generation(&s, Some(TRUSTED + 1));
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    assert_eq!(listings(&s), 1);
    // That generation is now the one vouched for: no listing any more.
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    assert_eq!(listings(&s), 0);
}

#[test]
fn another_generation_with_another_listing_heals() {
    let mut s = trusted();
    set_generation(&s, Some(TRUSTED + 1));
    set_listing(&s, Some(listing("10.0.0.0/8", "")));
    s.agent.sync().unwrap();
    // Elements missing: a full apply, whose refill and rules were the only commits, in a
    // table of our objects alone: trusted without listing it again.
    assert_eq!(s.fake.take_calls(), ROUND_NFT_NETLINK);
    assert_eq!(listings(&s), 1);
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_NFT_UNCHANGED);
    assert_eq!(listings(&s), 0);
}

#[test]
fn an_unreadable_generation_lists_every_round_as_before() {
    let mut s = setup_with(false, Datapath::Nftables);
    set_listing(&s, Some(listing(DEFAULT_ELEMENTS, "")));
    set_objects(&s, Some(objects(&[])));
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
