//! Regression tests for the differences the differential runs found (agent/tests/
//! differential, against tools/reference-parse): each case is what the reference's parse
//! path (go-yaml 2.4 → YAML-to-JSON → encoding/json) does, now ours too. Since the front
//! end reads libyaml's events, libyaml itself handles every shape the cargo-fuzz target
//! found (docs/fuzzing.md); the tests stay as regression tests.

use super::*;

fn limit(text: &str) -> i64 {
    match parse(text.as_bytes(), &ParseOptions::default()) {
        Ok(p) => p.config.cidr_limit,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

fn rejected(text: &[u8]) -> String {
    match parse(text, &ParseOptions::default()) {
        Ok(p) => panic!("{:?} parsed: {:?}", String::from_utf8_lossy(text), p.config),
        Err(e) => e.to_string(),
    }
}

fn list(text: &str) -> Vec<String> {
    match parse(text.as_bytes(), &ParseOptions::default()) {
        Ok(p) => p
            .config
            .non_masquerade_cidrs
            .into_iter()
            .map(|c| c.text)
            .collect(),
        Err(e) => panic!("{text:?}: {e}"),
    }
}

#[test]
fn integers_in_every_go_form_and_explicit_tags() {
    for (text, n) in [
        ("cidrLimit: 0o17", 15),
        ("cidrLimit: 0O17", 15),
        ("cidrLimit: 0X1F", 31),
        ("cidrLimit: 0B111", 7),
        ("cidrLimit: !!int '5'", 5),
        ("cidrLimit: !!float 5", 5),
        ("cidrLimit: 1e1", 10),
    ] {
        assert_eq!(limit(text), n, "{text}");
    }
    assert!(rejected(b"cidrLimit: !!int x").contains("cannot decode"));
    assert!(rejected(b"cidrLimit: !x 5").contains("is a string"));
}

#[test]
fn merge_keys_apply_in_order() {
    assert!(rejected(b"<<: {cidrLimit: 1}\n").contains("exceed cidrLimit 1"));
    assert_eq!(limit("cidrLimit: 1\n<<: {cidrLimit: 5}\n"), 5);
    assert_eq!(limit("<<: {cidrLimit: 5}\ncidrLimit: 4\n"), 4);
    assert_eq!(limit("<<: [{cidrLimit: 5}, {cidrLimit: 6}]\n"), 5);
    assert_eq!(limit("a: &a {cidrLimit: 7}\n<<: *a\n"), 7);
    assert!(rejected(b"<<: 3\n").contains("map merge requires"));
    // Quoted, it is an ordinary (unknown) key.
    assert_eq!(limit("'<<': {cidrLimit: 1}\n"), 64);
}

#[test]
fn keys_and_values_json_cannot_carry_are_refused() {
    for text in [
        "~: 1\n",
        "null: [1]\n",
        "a: {~: 1}\n",
        "? [a]\n: 1\n",
        "? {a: 1}\n: 1\n",
        "18446744073709551615: x\n",
        "foo: .inf\n",
        "foo: [-.Inf]\n",
        "foo: .nan\n",
    ] {
        rejected(text.as_bytes());
    }
    // As keys, non-finite floats are text.
    assert_eq!(limit(".inf: 1\n"), 64);
}

/// Go's decoder reuses the default list's backing array: a `null` element keeps the
/// default at its index, or is `""` (invalid) past it.
#[test]
fn null_list_elements_keep_the_default_at_their_index() {
    assert_eq!(list("nonMasqueradeCIDRs: [null]"), ["10.0.0.0/8"]);
    assert_eq!(
        list("{\"nonMasqueradeCIDRs\": [\"1.0.0.0/8\", null, null]}"),
        ["1.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    );
    assert!(rejected(b"nonMasqueradeCIDRs: [~, ~, ~, ~]").contains("\"\" is not a valid CIDR"));
    // A later duplicate (JSON keeps both) sees what the first one wrote.
    assert_eq!(
        list("{\"nonMasqueradeCIDRs\": [\"1.0.0.0/8\"], \"NONMASQUERADECIDRS\": [null]}"),
        ["1.0.0.0/8"]
    );
}

#[test]
fn json_keys_fold_as_go_does() {
    assert_eq!(limit("{\"cidr\u{212a}imit\": 9}"), 64); // Kelvin sign is k, not l
    assert_eq!(limit("{\"cidrLimit\": 9, \"CIDRLIMIT\": 3}"), 3);
    assert!(rejected("{\"ma\u{17f}qLinkLocal\": 1}".as_bytes()).contains("masqLinkLocal"));
    assert_eq!(limit("{\"cidrLimit\": 9, \"cidrlimit\": 8}"), 8);
    // A no-break space or a vertical tab counts as white space before the JSON brace
    // (Go's unicode.IsSpace), which makes the document JSON; Go's decoder then refuses it.
    assert!(rejected("\u{a0}{\"cidrLimit\": 9}".as_bytes()).contains("JSON"));
    assert!(rejected(b"\x0b{\"cidrLimit\": 9}").contains("JSON"));
    // Invalid UTF-8 inside a JSON string is U+FFFD for Go, not an error.
    assert_eq!(limit("{\"x\": \"\u{fffd}\", \"cidrLimit\": 9}"), 9);
    assert_eq!(
        parse(
            b"{\"x\": \"\xff\", \"cidrLimit\": 9}",
            &ParseOptions::default()
        )
        .unwrap()
        .config
        .cidr_limit,
        9
    );
}

#[test]
fn go_yaml_reader_and_scanner_rules() {
    // NEL, LS and PS are line breaks in YAML 1.1.
    assert_eq!(limit("a: 1\u{85}cidrLimit: 9\n"), 9);
    assert_eq!(limit("a: 1\u{2028}cidrLimit: 9\n"), 9);
    // Control characters are refused; UTF-16 with a byte-order mark is read.
    assert!(rejected(b"cidrLimit: 9\x01\n").contains("control character"));
    assert!(rejected(b"cidrLimit: 9\n\0").contains("control character"));
    let utf16: Vec<u8> = [0xFEFF_u16]
        .into_iter()
        .chain("cidrLimit: 9\n".encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_eq!(
        parse(&utf16, &ParseOptions::default())
            .unwrap()
            .config
            .cidr_limit,
        9
    );
    // Tabs in indentation, outside flow collections and quoted scalars.
    assert!(rejected(b"\tcidrLimit: 3\n").contains("cannot start any token"));
    rejected(b"a:\n\t- 1\n");
    assert_eq!(limit("a: {b: 1,\n\tc: 2}\ncidrLimit: 9\n"), 9);
    assert_eq!(limit("a: \"x\n\ty\"\ncidrLimit: 9\n"), 9);
    assert_eq!(limit("cidrLimit:\t9\n"), 9);
    // A document end marker first; a YAML version other than 1.1.
    assert!(rejected(b"...\n").contains("did not find expected node content"));
    assert!(rejected(b"%YAML 1.2\n---\ncidrLimit: 3\n").contains("incompatible"));
    assert_eq!(limit("%YAML 1.1\n---\ncidrLimit: 9\n"), 9);
}

#[test]
fn json_lone_surrogates_are_replacement_characters() {
    assert_eq!(limit("{\"x\": \"\\ud800\", \"cidrLimit\": 9}"), 9);
    assert_eq!(limit("{\"x\": \"\\udc00\\ud800x\", \"cidrLimit\": 9}"), 9);
    assert_eq!(limit("{\"x\": \"\\ud83d\\ude00\", \"cidrLimit\": 9}"), 9);
    assert_eq!(limit("{\"x\": \"\\\\ud800\", \"cidrLimit\": 9}"), 9);
}

#[test]
fn tags_followed_by_flow_indicators_and_odd_anchors_are_refused() {
    // go-yaml reads `!10.0.0.0/8]` as a tag, then misses the list's end.
    rejected(b"nonMasqueradeCIDRs: [fd00::/8, !10.0.0.0/8]\n");
    rejected(b"a: &a.b x\n");
    rejected(b"a: &... x\n");
    assert_eq!(limit("a: &a-b_1 x\nb: *a-b_1\ncidrLimit: 9\n"), 9);
    rejected(b"%FOO bar\n---\na: 1\n");
    rejected(b"a: {: 1}\n");
    rejected(b"nonMasqueradeCIDRs: [::/0]\n");
    assert_eq!(list("nonMasqueradeCIDRs: ['10.0.0.0/8']\n"), ["10.0.0.0/8"]);
    rejected(b"a: {b c\n d: 1}\n");
}

#[test]
fn yaml_test_suite_findings() {
    // 5MUD, K3WX, VJP3: the ':' after an implicit key in a flow collection on a later line.
    rejected(b"---\n{ \"foo\"\n  :bar }\n");
    rejected(b"---\n{ \"foo\" # comment\n  :bar }\n");
    rejected(b"k: {\n k\n :\n v\n }\n");
    assert_eq!(limit("a: {b\n , c: 1}\ncidrLimit: 9\n"), 9);
    // 2SXE, Y2GN: anchor names go-yaml (like libyaml) ends at ':'.
    rejected(b"&a: key: &a value\nfoo:\n  *a:\n");
    assert_eq!(limit("key: &an:chor value\ncidrLimit: 9\n"), 9);
}

/// go-yaml scans one token past the first document (unless it ended with `...`): a
/// malformed anchor or alias there fails the config (found by the differential fuzz target).
#[test]
fn the_token_after_the_document_is_scanned() {
    rejected(b"&a &#");
    rejected(b"---\n{}*a\"cidrLimit\"");
    assert_eq!(limit("cidrLimit: 9\n...\n&"), 9);
    assert_eq!(limit("cidrLimit: 9\n---\n&a x\n"), 9);
}

/// A plain scalar continued inside a flow collection: a tab left of the enclosing block
/// collection's indentation + 1 is refused (found by the cargo-fuzz differential target).
#[test]
fn tabs_in_flow_scalar_continuations() {
    rejected(b"a: [x\n\ty]\n");
    rejected(b"  a: [x\n  \ty]\n");
    assert_eq!(limit("  a: [x\n   \ty]\n  cidrLimit: 9\n"), 9);
    assert_eq!(limit("a: [x,\n\ty]\ncidrLimit: 9\n"), 9);
}

/// Anchors on the lines after a top-level flow mapping: go-yaml's lookahead reaches them
/// (found by the cargo-fuzz differential target).
#[test]
fn anchors_on_later_lines_after_the_document() {
    rejected(b"# c\n &- {a: 1}\n &- {b: 2}\n &.255}\n");
    rejected(b"!!null # c\n!null# x\n");
    rejected(b"a:\n  - b\n  -\n# c\n  '''m");
    assert_eq!(limit("cidrLimit: 9\n'a''b': 'c'\n"), 9);
    assert_eq!(limit("cidrLimit: 9\n---\nx: &a.b 1\n"), 9);
}

/// An anchor after the document whose name ends at `@`, `%` or a backquote: go-yaml ends
/// the name there and then cannot start a token with that character; a YAML 1.2 name
/// takes them in (found by the cargo-fuzz differential target, docs/fuzzing.md).
#[test]
fn a_character_that_cannot_start_a_token_after_an_anchor() {
    rejected(b"  cidrLimit: 9\n &x@ 1\n");
    rejected(b"  cidrLimit: 9\n &x` 1\n");
    rejected(b"  cidrLimit: 9\n *x% 1\n");
    rejected(&base64_fuzz_finding());
    assert_eq!(limit("  cidrLimit: 9\n &x 1\n"), 9);
    assert_eq!(limit("  cidrLimit: 9\n &x: 1\n"), 9);
}

/// The fuzz finding itself: a block sequence mixing `- `, `@` and tabs.
fn base64_fuzz_finding() -> Vec<u8> {
    b"# yon\t32[ yon\t32[6.gml-la[yo2[6.gml-la[gtns:\n  -ns:\n  -\n  - \n &-0prot@ :[6.gml-la[gtns:rot0os:\n  -ns:\n  -\n  -} \n  -00rot \n  -- \n $[ou :\n".to_vec()
}

/// One anchor per node for go-yaml (found by the cargo-fuzz differential target).
#[test]
fn two_anchors_on_one_node_are_refused() {
    rejected(b"k: &a &b x\n");
    rejected(b"k: &a !!str &b x\n");
    // Nor an anchor on an alias (eighth cargo-fuzz finding).
    rejected(b"&30s- *a:\n");
    assert_eq!(limit("k: !!str &a x\nj: *a\ncidrLimit: 9\n"), 9);
    assert_eq!(limit("k: &a\n  b: &c 1\ncidrLimit: 9\n"), 9);
}

/// A top-level block scalar whose content starts at column 0: go-yaml, whose minimum
/// indentation is one space, reads an empty scalar, so `!!null >` followed by such a line is null, i.e. the
/// defaults; YAML 1.2 took the line as content and `!!null` refused it (found by the
/// cargo-fuzz differential target: `!!null >\r\r_`).
#[test]
fn a_top_level_block_scalar_needs_indented_content() {
    let defaults = ParseOptions::default();
    for text in [
        "!!null >\r\r_",
        "!!null >\n_",
        "!!null |\n# c\n",
        "--- !!null >\n_",
        // Leading empty lines, a comment on the header (fifth finding).
        "!!null >\n\n\n|\n\n  | |",
        "!!null > # c\n_",
    ] {
        let parsed = parse(text.as_bytes(), &defaults).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(parsed.config.cidr_limit, 64, "{text:?}");
    }
    assert!(rejected(b"!!null >\n _").contains("!!null"));
    // Those lines are after the document, and scanned as such (second fuzz finding).
    assert!(rejected(b"!!null >\n& \n{{ [").contains("alphabetic or numeric"));
    // Quoted scalars back to back there, the last unclosed (eleventh finding).
    let eleventh = b"!!null \n>\n\n[[\": \"\"\"[z[:Y[\"\"\t0/[[\"::f\"\"\"\"[\"\"ff1240";
    assert!(rejected(eleventh).contains("end of stream"));
    assert!(rejected(b">\n_").contains("mapping"));
}

/// In a flow collection go-yaml reads a leading `?` as the key indicator even before a
/// non-blank and starts a new token after it, as libyaml does. The shapes the cargo-fuzz
/// target found:
/// `?1` as the value of a pair is a key where a node must be (third finding); as an
/// entry it is a one-pair mapping.
#[test]
fn a_question_mark_value_in_a_flow_pair_is_refused() {
    rejected(b".: [\t'':?1.\n]");
    rejected(b"a: {x: ?1}\n");
    // A tag with nothing after it is an empty node of that type (twelfth finding).
    assert!(rejected(b".: [?!!int ]").contains("!!int"));
    assert_eq!(limit("a: [?!!str ]\ncidrLimit: 9\n"), 9);
    assert_eq!(limit("a: [?1]\ncidrLimit: 9\n"), 9);
    assert_eq!(limit("a: [1, ?2]\ncidrLimit: 9\n"), 9);
    // After the indicator go-yaml scans a new token (fourth finding: `.: [?*a\n]`).
    rejected(b".: [?*a\n]");
    rejected(b"a: &ab x\nb: [?*a]\n");
    rejected(b"b: [?#x\n]\n");
    rejected(b"b: [?:x]\n");
    assert_eq!(limit("a: &a x\nb: [?*a]\ncidrLimit: 9\n"), 9);
    // Nor a character that cannot start a token, or a tag that eats the `]` (ninth).
    rejected(b".: [?%\t.:  ]");
    rejected(b"a: [?|x]\n");
    rejected(b"a: [?!x]\n");
    rejected(b".: [?-  ]"); // tenth
    assert_eq!(limit("a: [?-x]\ncidrLimit: 9\n"), 9);
    assert_eq!(limit("a: [?!x y]\ncidrLimit: 9\n"), 9);
}

/// A block scalar whose last line ends the file without a line break has no final line
/// break for go-yaml (clip or keep chomping alike): `resyncInterval: >` over `5s` at the
/// end of a file is 5s, not "5s\n" (sixth cargo-fuzz finding, `!!null >\n ~`; fixture
/// block-scalar-at-end-of-file).
#[test]
fn a_block_scalar_at_the_end_of_the_file_has_no_final_break() {
    let defaults = ParseOptions::default();
    let interval = |text: &str| {
        parse(text.as_bytes(), &defaults)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
            .config
            .resync_interval_nanos
    };
    assert_eq!(interval("resyncInterval: >\n  5s"), 5_000_000_000);
    assert_eq!(interval("resyncInterval: |+\n  5s"), 5_000_000_000);
    assert_eq!(limit("!!null >\n ~"), 64);
    rejected(b"resyncInterval: >\n  5s\n");
    rejected(b"resyncInterval: >\n  5s\n  ");
    rejected(b"resyncInterval: |\n  5s\n# c");
}

/// An anchor alone on its line, another at the start of the next: go-yaml ends the first
/// node there and scans the second with its rules, refusing `?`/`:` and a blank after
/// the name (seventh cargo-fuzz finding: `\r&a\r&a?\ta\r&a `).
#[test]
fn an_anchor_on_the_line_after_an_anchor() {
    assert!(rejected(b"\r&a\r&a?\ta\r&a ").contains("mapping keys"));
    rejected(b"&a\n&b: a\n");
    rejected(b"&a # c\n&b: a\n");
    assert_eq!(limit("&a\n&b a\n"), 64);
    assert_eq!(limit("&a\n&b x: a\n"), 64);
}

/// go-yaml registers an anchor when its node starts, so an alias inside the node it names
/// refers to that node, and the decoder refuses it ("anchor 'a' value contains itself").
/// These were read with a null for the alias, and the first installed the default list's
/// second entry in its place: the unsafe direction.
#[test]
fn an_alias_inside_its_own_anchor_is_refused() {
    for text in [
        "nonMasqueradeCIDRs: &a [10.0.0.0/8, *a]\n",
        "x: &a [*a]\n",
        "x: &a {b: *a}\n",
        "x: &a {*a : 1}\n",
    ] {
        assert!(
            rejected(text.as_bytes()).contains("contains itself"),
            "{text:?}"
        );
    }
    // A later definition of the name inside the node is a finished node: fine.
    assert_eq!(limit("x: &a [&a 1, *a]\ncidrLimit: 9\n"), 9);
    assert!(rejected(b"x: [*b]\n").contains("unknown anchor"));
}

/// go-yaml decodes a timestamp into an `interface{}` as its text, keys included: the
/// reference reads `2001-12-14: x` as the key "2001-12-14".
#[test]
fn timestamp_keys_are_their_text() {
    assert_eq!(limit("2001-12-14: x\ncidrLimit: 9\n"), 9);
    assert_eq!(limit("2001-12-14t21:59:43.10-05:00: x\ncidrLimit: 9\n"), 9);
    assert_eq!(limit("a: {2001-12-14: x}\ncidrLimit: 9\n"), 9);
}
