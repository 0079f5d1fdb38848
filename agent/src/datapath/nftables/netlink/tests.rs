//! The batch's bytes, message by message. That the kernel takes them (and `nft list`
//! prints the prefixes back) is tested in a namespace (agent/tests/in_namespace).

use super::*;
use crate::datapath::nftables::elements::SetEdit;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

/// The messages of a batch: (type, flags, seq, body after `nfgenmsg`).
fn messages(batch: &[u8]) -> Vec<(u16, u16, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < batch.len() {
        let len = u32_at(batch, at) as usize;
        let m = &batch[at..at + len];
        out.push((u16_at(m, 4), u16_at(m, 6), u32_at(m, 8), m[20..].to_vec()));
        at += len;
    }
    out
}

fn edit(delete: &[&str], add: &[&str]) -> ElementEdit {
    ElementEdit {
        table: "T".into(),
        generation: 0x0102_0304,
        sets: vec![SetEdit {
            set: "nomasq-v4".into(),
            flush: false,
            delete: delete.iter().map(|s| s.parse().unwrap()).collect(),
            add: add.iter().map(|s| s.parse().unwrap()).collect(),
        }],
    }
}

#[test]
fn a_batch_is_begin_with_the_generation_deletions_additions_end() {
    let (batch, acked) = encode(&edit(&["10.0.2.0/24"], &["10.0.8.0/24"]), 1);
    let m = messages(&batch);
    assert_eq!(m.len(), 4);
    assert_eq!(acked, [2, 3]);
    // Begin: the generation, big-endian, as NFNL_BATCH_GENID.
    assert_eq!((m[0].0, m[0].2), (0x10, 1));
    assert_eq!(m[0].3, [8, 0, 1, 0, 1, 2, 3, 4]);
    assert_eq!((m[1].0, m[1].1), (0x0a0e, NLM_F_REQUEST | NLM_F_ACK));
    assert_eq!(
        (m[2].0, m[2].1),
        (0x0a0c, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE)
    );
    assert_eq!((m[3].0, m[3].2), (0x11, 4));
    // The addition: table, set, then start 10.0.8.0 and end 10.0.9.0 (flagged), as
    // `nft --debug=netlink` shows nft sending them.
    let body = &m[2].3;
    assert_eq!(&body[4..6], b"T\0");
    assert_eq!(&body[12..22], b"nomasq-v4\0");
    let elements = &body[24..];
    assert_eq!(
        u16_at(elements, 2),
        NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED
    );
    let start = [16u8, 0, 1, 0x80, 12, 0, 1, 0x80, 8, 0, 1, 0, 10, 0, 8, 0];
    assert_eq!(&elements[4..20], &start);
    assert_eq!(&elements[20 + 12..20 + 16], &[10, 0, 9, 0]);
    assert_eq!(&elements[20 + 16..20 + 24], &[8, 0, 3, 0, 0, 0, 0, 1]);
}

#[test]
fn a_prefix_reaching_the_last_address_has_an_open_end() {
    let (batch, _) = encode(&edit(&[], &["240.0.0.0/4"]), 1);
    let m = messages(&batch);
    let elements = &m[1].3[24..];
    // First the end at key 0 (flagged), then the start with nft's "open" user data.
    assert_eq!(&elements[4 + 12..4 + 16], &[0, 0, 0, 0]);
    assert_eq!(&elements[4 + 16..4 + 24], &[8, 0, 3, 0, 0, 0, 0, 1]);
    let start = &elements[4 + 24..];
    assert_eq!(&start[12..16], &[240, 0, 0, 0]);
    assert_eq!(&start[16..20], &[10, 0, 6, 0]);
    assert_eq!(&start[20..26], &UDATA_INTERVAL_OPEN);
}

#[test]
fn large_changes_are_split_into_messages_and_nothing_to_do_is_no_message() {
    let many: Vec<String> = (0..1200)
        .map(|i| format!("10.{}.{}.0/24", i / 128, (i % 128) * 2))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (batch, acked) = encode(&edit(&[], &many), 1);
    assert_eq!(acked.len(), 3);
    assert_eq!(messages(&batch).len(), 5);
    assert!(encode(&edit(&[], &[]), 1).1.is_empty());
}

#[test]
fn acks_and_errors_are_read_by_sequence_number() {
    let ack = |seq: u32, errno: i32| {
        let mut m = Vec::new();
        m.extend_from_slice(&36u32.to_ne_bytes());
        m.extend_from_slice(&2u16.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&(-errno).to_ne_bytes());
        m.extend_from_slice(&20u32.to_ne_bytes());
        m.extend_from_slice(&0x0a0cu16.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m
    };
    let mut two = ack(2, 0);
    two.extend(ack(3, ERESTART));
    assert_eq!(decode_acks(&two).unwrap(), [(2, 0), (3, ERESTART)]);
    assert!(decode_acks(&two[..30]).is_err());

    // On the kept socket: a batch numbered 10..14 (begin 10, messages 11-12, end 13).
    let ours = 10..14;
    let pending = || [11u32, 12].into_iter().collect::<HashSet<u32>>();
    // An earlier, abandoned exchange's error is not this batch's.
    let mut p = pending();
    let mut stale = ack(3, ERESTART);
    stale.extend(ack(11, 0));
    assert_eq!(take_answers(&stale, &ours, &mut p, 7).unwrap(), None);
    assert_eq!(
        take_answers(&ack(12, 0), &ours, &mut p, 7).unwrap(),
        Some(())
    );
    // The generation check answers on the begin message.
    let mut p = pending();
    assert!(matches!(
        take_answers(&ack(10, ERESTART), &ours, &mut p, 7),
        Err(BatchError::GenerationMoved(7))
    ));
    let mut p = pending();
    assert!(matches!(
        take_answers(&ack(12, 1), &ours, &mut p, 7),
        Err(BatchError::Refused(1))
    ));
}
