//! Recognizing our table in nft 1.0.6's listing format.

use super::*;

fn expect(sets: &[(&str, &[&str])], rules: usize) -> Expected {
    Expected {
        table: "T".into(),
        chain: "T".into(),
        sets: sets
            .iter()
            .map(|(n, e)| (n.to_string(), e.iter().map(|s| s.to_string()).collect()))
            .collect(),
        rules,
    }
}

fn listing(elements: &str, rules: &str) -> String {
    format!(
        "table inet T {{\n\tcomment \"{OWNER_COMMENT}\"\n\tset nomasq-v4 {{\n\t\ttype ipv4_addr\n\t\tflags interval\n{elements}\t}}\n\n\tchain T {{\n\t\tcomment \"{OWNER_COMMENT}\"\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n{rules}\t}}\n}}\n"
    )
}

const RULES: &str = "\t\tip daddr @nomasq-v4 return comment \"ip-masq-agent: a\"\n\t\tmasquerade comment \"ip-masq-agent: b\"\n";

#[test]
fn exact_listing_is_recognized() {
    let e = expect(&[("nomasq-v4", &["10.0.0.0/8", "192.168.0.10/32"])], 2);
    let l = listing(
        "\t\telements = { 10.0.0.0/8,\n\t\t\t     192.168.0.10 }\n",
        RULES,
    );
    assert!(is_expected(&l, &e), "{l}");
    // An empty set lists no elements line.
    let e = expect(&[("nomasq-v4", &[])], 2);
    assert!(is_expected(&listing("", RULES), &e));
}

#[test]
fn any_drift_is_refused() {
    let e = expect(&[("nomasq-v4", &["10.0.0.0/8"])], 2);
    let els = "\t\telements = { 10.0.0.0/8 }\n";
    assert!(is_expected(&listing(els, RULES), &e));
    // An element added, removed or changed.
    assert!(!is_expected(
        &listing("\t\telements = { 10.0.0.0/8, 11.0.0.0/8 }\n", RULES),
        &e
    ));
    assert!(!is_expected(&listing("", RULES), &e));
    assert!(!is_expected(
        &listing("\t\telements = { 10.0.0.0/9 }\n", RULES),
        &e
    ));
    // A rule appended (no comment), a rule gone, the chain flushed.
    let appended = format!("{RULES}\t\tcounter packets 0 bytes 0\n");
    assert!(!is_expected(&listing(els, &appended), &e));
    let one = "\t\tmasquerade comment \"ip-masq-agent: b\"\n";
    assert!(!is_expected(&listing(els, one), &e));
    assert!(!is_expected(&listing(els, ""), &e));
    // Another chain or set in our table, another table, nothing.
    let l = listing(els, RULES).replace("\n}\n", "\n\tchain X {\n\t}\n}\n");
    assert!(!is_expected(&l, &e));
    let l = listing(els, RULES).replace("\n}\n", "\n\tset Y {\n\t\ttype ipv4_addr\n\t}\n}\n");
    assert!(!is_expected(&l, &e));
    assert!(!is_expected(
        &listing(els, RULES).replace("inet T {", "inet U {"),
        &e
    ));
    assert!(!is_expected("", &e));
}

#[test]
fn one_address_elements_are_listed_bare() {
    assert_eq!(listed_form("10.1.2.3/32"), "10.1.2.3");
    assert_eq!(listed_form("fd00::1/128"), "fd00::1");
    assert_eq!(listed_form("10.0.0.0/8"), "10.0.0.0/8");
    assert_eq!(listed_form("fd00::/8"), "fd00::/8");
}
