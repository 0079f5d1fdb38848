//! Reading a set's elements back as prefixes, and the dump's bytes. That the kernel
//! answers so is tested in a namespace (agent/tests/in_namespace).

use super::*;
use crate::datapath::nftables::objects::{NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP_INTR};

fn start(key: &[u8]) -> Element {
    Element::new(key, false)
}

fn end(key: &[u8]) -> Element {
    Element::new(key, true)
}

fn nets(v: &[&str]) -> Vec<IpNet> {
    v.iter().map(|s| s.parse().unwrap()).collect()
}

#[test]
fn ranges_read_back_as_the_prefixes_they_were_written_from() {
    // As the kernel dumps them (the highest first), an open end at key zero included.
    let elements = [
        start(&[240, 0, 0, 0]),
        end(&[0, 0, 0, 0]),
        end(&[10, 0, 9, 0]),
        start(&[10, 0, 8, 0]),
        end(&[10, 0, 0, 2]),
        start(&[10, 0, 0, 1]),
    ];
    assert_eq!(
        prefixes(&elements),
        Some(nets(&["10.0.0.1/32", "10.0.8.0/24", "240.0.0.0/4"]))
    );
    assert_eq!(prefixes(&[]), Some(vec![]));
    // The open end left out, as nft writes it from a script.
    assert_eq!(
        prefixes(&[
            start(&[240, 0, 0, 0]),
            end(&[10, 0, 9, 0]),
            start(&[10, 0, 8, 0])
        ]),
        Some(nets(&["10.0.8.0/24", "240.0.0.0/4"]))
    );
    // The whole IPv4 space: a start at zero and an open end.
    assert_eq!(
        prefixes(&[end(&[0; 4]), start(&[0; 4])]),
        Some(nets(&["0.0.0.0/0"]))
    );
    let mut v6 = [0u8; 16];
    v6[0] = 0xfd;
    let mut v6_end = [0u8; 16];
    v6_end[0] = 0xfe;
    assert_eq!(
        prefixes(&[start(&v6), end(&v6_end)]),
        Some(nets(&["fd00::/8"]))
    );
    assert_eq!(
        prefixes(&[start(&[0; 16]), end(&[0; 16])]),
        Some(nets(&["::/0"]))
    );
}

#[test]
fn anything_but_prefixes_is_unreadable() {
    // 10.0.0.1-10.0.0.5 is a range, not a prefix.
    assert_eq!(
        prefixes(&[start(&[10, 0, 0, 1]), end(&[10, 0, 0, 6])]),
        None
    );
    // A prefix that does not start on its boundary.
    assert_eq!(
        prefixes(&[start(&[10, 0, 1, 0]), end(&[10, 0, 3, 0])]),
        None
    );
    // A start without an end, two open ends, overlapping ranges, mixed widths.
    assert_eq!(prefixes(&[start(&[10, 0, 0, 0])]), None);
    assert_eq!(
        prefixes(&[start(&[1, 0, 0, 0]), end(&[0; 4]), end(&[0; 4])]),
        None
    );
    assert_eq!(
        prefixes(&[
            start(&[10, 0, 0, 0]),
            start(&[10, 0, 0, 128]),
            end(&[10, 0, 1, 0]),
            end(&[10, 0, 2, 0])
        ]),
        None
    );
    assert_eq!(prefixes(&[start(&[10, 0, 0, 0]), end(&[0; 16])]), None);
    assert_eq!(prefixes(&[start(&[10, 0, 0]), end(&[10, 0, 1])]), None);
}

/// One NEWSETELEM answer holding `elements`, as the kernel builds it.
fn answer(seq: u32, flags: u16, elements: &[Element]) -> Vec<u8> {
    let mut m = Message::new(
        (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM,
        flags,
        seq,
        NFPROTO_INET,
        0,
    );
    m.attr(NFTA_SET_ELEM_LIST_TABLE, b"T\0");
    m.attr(NFTA_SET_ELEM_LIST_SET, b"nomasq-v4\0");
    let list = m.nest(NFTA_SET_ELEM_LIST_ELEMENTS);
    for e in elements {
        let elem = m.nest(NFTA_LIST_ELEM);
        let key = m.nest(NFTA_SET_ELEM_KEY);
        let bytes = e.key.to_be_bytes();
        m.attr(NFTA_DATA_VALUE, &bytes[16 - usize::from(e.width)..]);
        m.end_nest(key);
        if e.end {
            m.attr(
                NFTA_SET_ELEM_FLAGS,
                &NFT_SET_ELEM_INTERVAL_END.to_be_bytes(),
            );
        }
        m.end_nest(elem);
    }
    m.end_nest(list);
    let mut out = Vec::new();
    m.finish(&mut out);
    out
}

fn done(seq: u32) -> Vec<u8> {
    let mut out = Vec::new();
    Message::new(NLMSG_DONE, 2, seq, 0, 0).finish(&mut out);
    out
}

#[test]
fn the_dump_names_the_table_and_set_and_its_answers_give_the_elements() {
    let m = encode_dump("T", "nomasq-v4", 5);
    assert_eq!(u16_at(&m, 4), 0x0a0d);
    assert_eq!(u16_at(&m, 6), NLM_F_REQUEST | NLM_F_DUMP);
    assert_eq!(&m[20..26], &[6, 0, 1, 0, b'T', 0]);
    assert_eq!(&m[28..30], &[14, 0]);
    assert_eq!(&m[32..42], b"nomasq-v4\0");
    let elements = [end(&[10, 0, 9, 0]), start(&[10, 0, 8, 0])];
    let mut datagram = answer(5, 2, &elements);
    datagram.extend(answer(4, 2, &[start(&[1, 1, 1, 1])]));
    assert_eq!(
        decode_dump(&datagram, 5).unwrap(),
        (elements.to_vec(), false)
    );
    datagram.extend(done(5));
    assert!(decode_dump(&datagram, 5).unwrap().1);
}

#[test]
fn an_interrupted_or_refused_dump_is_an_error() {
    let interrupted = answer(1, 2 | NLM_F_DUMP_INTR, &[start(&[1, 1, 1, 1])]);
    assert!(matches!(
        decode_dump(&interrupted, 1),
        Err(ObjectsError::Malformed(_))
    ));
    let mut err = done(1);
    err[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
    err[16..20].copy_from_slice(&(-2i32).to_ne_bytes());
    assert!(matches!(
        decode_dump(&err, 1),
        Err(ObjectsError::Refused(2))
    ));
}
