//! The dump's request and answers, byte by byte. That the kernel answers so is tested in
//! a namespace (agent/tests/in_namespace, a foreign chain caught after a full apply).

use super::*;

/// A dump answer message as the kernel builds it: header, `nfgenmsg`, attributes.
fn object(kind: u16, seq: u32, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = vec![NFPROTO_INET, 0, 0, 0];
    for (a, v) in attrs {
        body.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
        body.extend_from_slice(&a.to_ne_bytes());
        body.extend_from_slice(v);
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
    }
    let mut m = Vec::new();
    m.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | kind).to_ne_bytes());
    m.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend(body);
    m
}

fn done(seq: u32) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&20u32.to_ne_bytes());
    m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    m.extend_from_slice(&2u16.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&0i32.to_ne_bytes());
    m
}

fn set(seq: u32, table: &str, name: &str, flags: u32) -> Vec<u8> {
    let (t, n) = (format!("{table}\0"), format!("{name}\0"));
    object(
        NFT_MSG_NEWSET,
        seq,
        &[
            (NFTA_SET_TABLE, t.as_bytes()),
            (NFTA_SET_NAME, n.as_bytes()),
            (NFTA_SET_FLAGS, &flags.to_be_bytes()),
        ],
    )
}

#[test]
fn the_request_is_a_dump_of_the_inet_family() {
    let m = encode_dump(NFT_MSG_GETSET, 3);
    assert_eq!(m.len(), 20);
    assert_eq!(u16_at(&m, 4), 0x0a0a);
    assert_eq!(u16_at(&m, 6), NLM_F_REQUEST | NLM_F_DUMP);
    assert_eq!(u32_at(&m, 8), 3);
    assert_eq!(&m[16..], &[NFPROTO_INET, 0, 0, 0]);
}

#[test]
fn a_dump_gives_each_objects_table_name_and_flags_until_done() {
    let mut first = set(1, "T", "nomasq-v4", 0x4);
    first.extend(set(1, "T", "__set0", 0x3));
    let (objects, finished) = decode_dump(&first, 1, NFT_MSG_NEWSET).unwrap();
    assert!(!finished);
    assert_eq!(
        objects,
        [
            ("T".to_string(), "nomasq-v4".to_string(), 4),
            ("T".to_string(), "__set0".to_string(), 3)
        ]
    );
    let mut last = set(1, "other", "s", 0);
    last.extend(done(1));
    let (objects, finished) = decode_dump(&last, 1, NFT_MSG_NEWSET).unwrap();
    assert!(finished);
    assert_eq!(objects.len(), 1);
    // A chain: table and name are attributes 1 and 3.
    let chain = object(NFT_MSG_NEWCHAIN, 1, &[(1, b"T\0"), (3, b"C\0")]);
    let (objects, _) = decode_dump(&chain, 1, NFT_MSG_NEWCHAIN).unwrap();
    assert_eq!(objects, [("T".to_string(), "C".to_string(), 0)]);
}

#[test]
fn errors_and_malformed_answers_are_errors() {
    let mut err = done(1);
    err[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
    err[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
    assert!(matches!(
        decode_dump(&err, 1, NFT_MSG_NEWSET),
        Err(ObjectsError::Refused(1))
    ));
    let mut long = set(1, "T", "s", 0);
    long[0] = 200;
    assert!(matches!(
        decode_dump(&long, 1, NFT_MSG_NEWSET),
        Err(ObjectsError::Malformed(_))
    ));
    let nameless = object(NFT_MSG_NEWSET, 1, &[(NFTA_SET_TABLE, b"T\0")]);
    assert!(matches!(
        decode_dump(&nameless, 1, NFT_MSG_NEWSET),
        Err(ObjectsError::Malformed(_))
    ));
    // Another request's messages are not ours.
    let (objects, finished) = decode_dump(&set(2, "T", "s", 0), 1, NFT_MSG_NEWSET).unwrap();
    assert!(objects.is_empty() && !finished);
}

#[test]
fn ours_is_our_chain_and_our_sets_and_nothing_else() {
    let expect = Expected {
        table: "T".into(),
        chain: "T".into(),
        sets: vec![("nomasq-v4".into(), vec![]), ("nomasq-v6".into(), vec![])],
        rules: 5,
    };
    let objects = |chains: &[&str], sets: &[&str]| TableObjects {
        chains: chains.iter().map(|s| s.to_string()).collect(),
        sets: sets.iter().map(|s| s.to_string()).collect(),
    };
    assert!(objects(&["T"], &["nomasq-v4", "nomasq-v6"]).are_ours(&expect));
    assert!(!objects(&["T", "extra"], &["nomasq-v4", "nomasq-v6"]).are_ours(&expect));
    assert!(!objects(&["T"], &["nomasq-v4", "nomasq-v6", "x"]).are_ours(&expect));
    assert!(!objects(&["T"], &["nomasq-v4"]).are_ours(&expect));
    assert!(!objects(&[], &["nomasq-v4", "nomasq-v6"]).are_ours(&expect));
}
