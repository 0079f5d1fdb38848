//! Set element changes sent to the kernel as one nfnetlink batch: one transaction,
//! committed atomically, that deletes and adds interval elements of existing sets
//! (`NFT_MSG_DELSETELEM`, `NFT_MSG_NEWSETELEM`), guarded by the ruleset generation.
//!
//! Why not `nft -f`: nft loads every element of an interval set into its cache before it
//! adds or deletes one (to check overlaps), which costs as much as listing the set: about
//! 90 ms of CPU for one element added to a set of 10,000. The agent's elements never
//! overlap (they are aggregated, `super::scripts`), so the batch is built here, in the form
//! nft itself sends (`nft --debug=netlink`): each prefix is a start element (its network
//! address) and an end element flagged `NFT_SET_ELEM_INTERVAL_END` (the address after its
//! last one); a prefix that reaches the last address has an open end: the end element's
//! key is zero and the start carries nft's "interval open" user data, as nft writes it,
//! so `nft list` prints the prefix back.
//!
//! The batch's begin message carries `NFNL_BATCH_GENID`: the kernel refuses the whole
//! batch (`ERESTART`) unless the ruleset generation is still that one, so the change is
//! only ever applied on top of the table the agent verified. The command-line backend sends it only
//! after `nft --version` ran (`crate::datapath::Cli`): nft remains the agent's tool, and
//! while it is broken or missing no change is written, as before. Only element changes of
//! existing sets go this way; rules never change in the same transaction (the two
//! transactions' rule, docs/nftables-datapath.md).
//!
//! Constants: include/uapi/linux/netlink.h, netfilter/nfnetlink.h, netfilter/nf_tables.h.

use super::elements::ElementEdit;
use super::socket::{Channel, SocketError};
use ipnet::IpNet;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
/// `NFNL_BATCH_GENID` (nfnetlink.h): the batch applies only at this generation.
const NFNL_BATCH_GENID: u16 = 1;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_FLAGS: u16 = 3;
const NFTA_SET_ELEM_USERDATA: u16 = 6;
const NFTA_DATA_VALUE: u16 = 1;
const NFT_SET_ELEM_INTERVAL_END: u32 = 1;
/// nft's element user data for an interval open at its end (libnftnl's
/// `NFTNL_UDATA_SET_ELEM_FLAGS` = `NFTNL_SET_ELEM_F_INTERVAL_OPEN`: type 1, length 4,
/// value 1 in host order), what `nft` writes for `240.0.0.0/4`.
const UDATA_INTERVAL_OPEN: [u8; 6] = [1, 4, 1, 0, 0, 0];
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLA_F_NESTED: u16 = 0x8000;
const NFPROTO_INET: u8 = 1;
const AF_UNSPEC: u8 = 0;
/// `ERESTART`: the generation moved (or another batch raced this one).
const ERESTART: i32 = 85;
/// Prefixes per element message: a nested attribute's length is 16 bits, and an IPv6
/// prefix takes 64 bytes.
const PREFIXES_PER_MESSAGE: usize = 500;

/// Why a batch was not applied. Nothing was: the kernel commits a batch whole or not.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("the ruleset generation is no longer {0}: batch refused")]
    GenerationMoved(u32),
    #[error("the kernel refused the element batch: errno {0}")]
    Refused(i32),
    #[error("malformed netlink answer")]
    Malformed,
}

/// A message being built: header, `nfgenmsg`, attributes.
pub(super) struct Message(Vec<u8>);

impl Message {
    pub(super) fn new(kind: u16, flags: u16, seq: u32, family: u8, res_id: u16) -> Self {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&0u32.to_ne_bytes()); // length, set by `finish`
        b.extend_from_slice(&kind.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&[family, 0]);
        b.extend_from_slice(&res_id.to_be_bytes());
        Message(b)
    }

    pub(super) fn attr(&mut self, kind: u16, value: &[u8]) {
        let len = 4 + value.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(value);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
    }

    /// Opens a nested attribute; returns where its length goes.
    pub(super) fn nest(&mut self, kind: u16) -> usize {
        let at = self.0.len();
        self.0.extend_from_slice(&0u16.to_ne_bytes());
        self.0
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        at
    }

    pub(super) fn end_nest(&mut self, at: usize) {
        let len = (self.0.len() - at) as u16;
        self.0[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    pub(super) fn finish(mut self, out: &mut Vec<u8>) {
        let len = self.0.len() as u32;
        self.0[0..4].copy_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&self.0);
    }
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// The address after `net`'s last one, `None` when it is the family's last address.
fn end_key(net: &IpNet) -> Option<Vec<u8>> {
    match net {
        IpNet::V4(n) => u32::from(n.broadcast())
            .checked_add(1)
            .map(|a| a.to_be_bytes().to_vec()),
        IpNet::V6(n) => u128::from(n.broadcast())
            .checked_add(1)
            .map(|a| a.to_be_bytes().to_vec()),
    }
}

fn start_key(net: &IpNet) -> Vec<u8> {
    match net {
        IpNet::V4(n) => n.network().octets().to_vec(),
        IpNet::V6(n) => n.network().octets().to_vec(),
    }
}

fn element(m: &mut Message, key: &[u8], end: bool, open: bool) {
    let elem = m.nest(NFTA_LIST_ELEM);
    let k = m.nest(NFTA_SET_ELEM_KEY);
    m.attr(NFTA_DATA_VALUE, key);
    m.end_nest(k);
    if end {
        m.attr(
            NFTA_SET_ELEM_FLAGS,
            &NFT_SET_ELEM_INTERVAL_END.to_be_bytes(),
        );
    }
    if open {
        m.attr(NFTA_SET_ELEM_USERDATA, &UDATA_INTERVAL_OPEN);
    }
    m.end_nest(elem);
}

/// One element message for `nets` of `set`: each prefix as its start and end elements.
fn element_message(kind: u16, seq: u32, table: &str, set: &str, nets: &[IpNet]) -> Message {
    let flags = NLM_F_REQUEST
        | NLM_F_ACK
        | if kind == NFT_MSG_NEWSETELEM {
            NLM_F_CREATE
        } else {
            0
        };
    let mut m = Message::new(
        (NFNL_SUBSYS_NFTABLES << 8) | kind,
        flags,
        seq,
        NFPROTO_INET,
        0,
    );
    m.attr(NFTA_SET_ELEM_LIST_TABLE, &cstr(table));
    m.attr(NFTA_SET_ELEM_LIST_SET, &cstr(set));
    let list = m.nest(NFTA_SET_ELEM_LIST_ELEMENTS);
    for net in nets {
        let start = start_key(net);
        match end_key(net) {
            Some(end) => {
                element(&mut m, &start, false, false);
                element(&mut m, &end, true, false);
            }
            None => {
                element(&mut m, &vec![0; start.len()], true, false);
                element(&mut m, &start, false, true);
            }
        }
    }
    m.end_nest(list);
    m
}

/// The batch for `edit`: begin (with the generation), every set's flush (a
/// `NFT_MSG_DELSETELEM` without elements, what `nft flush set` sends) or deletions, then its
/// additions, end. Returns the bytes and the sequence numbers the kernel acknowledges.
pub fn encode(edit: &ElementEdit, first_seq: u32) -> (Vec<u8>, Vec<u32>) {
    let mut out = Vec::new();
    let mut seq = first_seq;
    let mut begin = Message::new(
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        seq,
        AF_UNSPEC,
        NFNL_SUBSYS_NFTABLES,
    );
    begin.attr(NFNL_BATCH_GENID, &edit.generation.to_be_bytes());
    begin.finish(&mut out);
    let mut acked = Vec::new();
    for set in &edit.sets {
        if set.flush {
            seq += 1;
            let mut m = Message::new(
                (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM,
                NLM_F_REQUEST | NLM_F_ACK,
                seq,
                NFPROTO_INET,
                0,
            );
            m.attr(NFTA_SET_ELEM_LIST_TABLE, &cstr(&edit.table));
            m.attr(NFTA_SET_ELEM_LIST_SET, &cstr(&set.set));
            m.finish(&mut out);
            acked.push(seq);
        }
        for (kind, nets) in [
            (NFT_MSG_DELSETELEM, &set.delete),
            (NFT_MSG_NEWSETELEM, &set.add),
        ] {
            for chunk in nets.chunks(PREFIXES_PER_MESSAGE) {
                seq += 1;
                element_message(kind, seq, &edit.table, &set.set, chunk).finish(&mut out);
                acked.push(seq);
            }
        }
    }
    seq += 1;
    Message::new(
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        seq,
        AF_UNSPEC,
        NFNL_SUBSYS_NFTABLES,
    )
    .finish(&mut out);
    (out, acked)
}

/// The errors (`NLMSG_ERROR`: errno, 0 for an ack) in a datagram, by sequence number.
pub fn decode_acks(buf: &[u8]) -> Result<Vec<(u32, i32)>, BatchError> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= 16 {
        let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
        if len < 16 || at + len > buf.len() {
            return Err(BatchError::Malformed);
        }
        let msg = &buf[at..at + len];
        let kind = u16::from_ne_bytes([msg[4], msg[5]]);
        if kind == NLMSG_ERROR {
            // The errno, then the request's header: its sequence number is ours.
            if msg.len() < 36 {
                return Err(BatchError::Malformed);
            }
            let errno = i32::from_ne_bytes(msg[16..20].try_into().unwrap());
            let seq = u32::from_ne_bytes(msg[28..32].try_into().unwrap());
            out.push((seq, -errno));
        }
        at += len.next_multiple_of(4).min(buf.len() - at);
    }
    Ok(out)
}

/// Takes the acknowledgements in `answer` of the batch whose messages are numbered
/// `ours` off `pending`: `Some` once none is pending. An error for any of its messages
/// (the begin message's included: the generation check answers there) fails the batch;
/// answers to other sequence numbers (an earlier, abandoned exchange's) are not ours.
pub fn take_answers(
    answer: &[u8],
    ours: &std::ops::Range<u32>,
    pending: &mut HashSet<u32>,
    generation: u32,
) -> Result<Option<()>, BatchError> {
    for (seq, errno) in decode_acks(answer)? {
        if !ours.contains(&seq) {
            continue;
        }
        match errno {
            0 => {
                pending.remove(&seq);
            }
            ERESTART => return Err(BatchError::GenerationMoved(generation)),
            e => return Err(BatchError::Refused(e)),
        }
    }
    Ok(pending.is_empty().then_some(()))
}

/// Where a batch's time went, for the round's debug line: building it, the send (the
/// kernel processes and commits the whole batch inside it), and reading the answers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchTimings {
    pub build: Duration,
    pub send_and_commit: Duration,
    pub answers: Duration,
}

/// Sends `edit` as one batch over `channel` and waits for the kernel's answer (within
/// the channel's timeout). `Ok` only when every message was acknowledged: the
/// transaction committed. Answers to other requests (an earlier exchange's) are ignored;
/// an error for the batch's begin message (the generation check, a permission) fails it.
pub fn apply(edit: &ElementEdit, channel: &mut Channel) -> Result<BatchTimings, BatchError> {
    let start = Instant::now();
    let messages = edit
        .sets
        .iter()
        .map(|s| 2 + s.delete.len() + s.add.len())
        .sum::<usize>()
        + 2;
    let count = u32::try_from(messages).unwrap_or(u32::MAX);
    let first = channel.sequence(count);
    let ours = first..first.saturating_add(count);
    let (batch, acked) = encode(edit, first);
    let mut timings = BatchTimings::default();
    if acked.is_empty() {
        return Ok(timings);
    }
    let mut pending: HashSet<u32> = acked.into_iter().collect();
    let built = Instant::now();
    timings.build = built - start;
    let mut sent = None;
    channel.exchange(&batch, |answer| {
        sent.get_or_insert_with(Instant::now);
        take_answers(answer, &ours, &mut pending, edit.generation)
    })?;
    // The first answer is read once the send returned: the kernel acknowledges a batch
    // only after its commit.
    let sent = sent.unwrap_or(built);
    timings.send_and_commit = sent - built;
    timings.answers = sent.elapsed();
    Ok(timings)
}

#[cfg(test)]
mod tests;
