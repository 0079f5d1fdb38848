//! Which chains and named sets a table holds, read over netlink: one `NFT_MSG_GETCHAIN`
//! and one `NFT_MSG_GETSET` dump of the `inet` family, filtered to the table here.
//!
//! Why: after a full apply whose commits were provably the only ones (the ruleset
//! generation moved by exactly their number, `super::sync`), our sets hold exactly our
//! elements (flushed and refilled) and our chain exactly our rules (flushed and refilled);
//! what the in-place transactions cannot remove is a foreign object inside our table (a
//! chain or a set added by hand). Asking for the objects' names costs two small dumps,
//! where `nft list table` prints every element (about 40 ms at 10,000). Anonymous sets
//! (`{ tcp, udp, sctp }` inside a rule) belong to their rule and are not listed by nft
//! either, so they are left out.
//!
//! Constants: include/uapi/linux/netlink.h and netfilter/nf_tables.h.

use super::netlink::Message;
use super::socket::{exchange, SocketError};
use super::Expected;
use std::time::Duration;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_NEWSET: u16 = 9;
const NFT_MSG_GETSET: u16 = 10;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_SET_TABLE: u16 = 1;
const NFTA_SET_NAME: u16 = 2;
const NFTA_SET_FLAGS: u16 = 3;
/// `NFT_SET_ANONYMOUS` (enum nft_set_flags).
const NFT_SET_ANONYMOUS: u32 = 0x1;
pub(super) const NLMSG_ERROR: u16 = 2;
pub(super) const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
const NLM_F_DUMP: u16 = 0x300;
/// `NLM_F_DUMP_INTR`: the dump met a change; its answer cannot be trusted.
pub(super) const NLM_F_DUMP_INTR: u16 = 0x10;
const NFPROTO_INET: u8 = 1;
const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;
const NLA_TYPE_MASK: u16 = 0x3fff;

/// Why the objects (or a set's elements, `super::contents`) could not be read: the caller
/// then does without them (lists the table, or refills the sets whole).
#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("the kernel refused the dump: errno {0}")]
    Refused(i32),
    #[error("malformed netlink answer: {0}")]
    Malformed(&'static str),
}

/// The chains and named sets of one table, each sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableObjects {
    pub chains: Vec<String>,
    pub sets: Vec<String>,
}

impl TableObjects {
    /// Whether the table holds our chain and our sets and nothing else.
    pub fn are_ours(&self, expect: &Expected) -> bool {
        let mut sets: Vec<&str> = expect.sets.iter().map(|(n, _)| n.as_str()).collect();
        sets.sort_unstable();
        self.chains == [expect.chain.as_str()] && self.sets.iter().eq(sets.iter())
    }
}

/// A dump request for every object of `kind` in the `inet` family.
pub fn encode_dump(kind: u16, seq: u32) -> Vec<u8> {
    let mut m = Vec::new();
    Message::new(
        (NFNL_SUBSYS_NFTABLES << 8) | kind,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        NFPROTO_INET,
        0,
    )
    .finish(&mut m);
    m
}

pub(super) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

pub(super) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The attributes (type without flags, value) from `offset` on: after `nlmsghdr` and
/// `nfgenmsg` for a message's, 0 for a nested attribute's.
pub(super) fn attributes(msg: &[u8], offset: usize) -> Result<Vec<(u16, &[u8])>, ObjectsError> {
    let mut attrs = msg.get(offset..).unwrap_or_default();
    let mut out = Vec::new();
    while attrs.len() >= 4 {
        let len = u16_at(attrs, 0) as usize;
        if len < 4 || len > attrs.len() {
            return Err(ObjectsError::Malformed("attribute length"));
        }
        out.push((u16_at(attrs, 2) & NLA_TYPE_MASK, &attrs[4..len]));
        attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
    }
    Ok(out)
}

/// A string attribute's value without its terminating NUL.
fn text(value: &[u8]) -> String {
    let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end]).into_owned()
}

/// One object of a dump answer: (table, name, set flags).
type Object = (String, String, u32);

/// Walks one datagram of a dump answering `seq`: hands each message of type `want`
/// (in the nftables subsystem) to `on`, skips other sequence numbers, and ends at the
/// dump's end (`Ok(true)`), at the kernel's error, or at any other message. With
/// `interrupted_is_error`, a message the kernel marks `NLM_F_DUMP_INTR` (the dumped
/// object changed meanwhile) ends it too. Shared by the dumps of objects and of a set's
/// elements (`contents`).
pub(super) fn walk_dump(
    buf: &[u8],
    seq: u32,
    want: u16,
    interrupted_is_error: bool,
    mut on: impl FnMut(&[u8]) -> Result<(), ObjectsError>,
) -> Result<bool, ObjectsError> {
    let mut at = 0;
    while buf.len() - at >= NLMSG_HDRLEN {
        let len = u32_at(buf, at) as usize;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            return Err(ObjectsError::Malformed("message length"));
        }
        let msg = &buf[at..at + len];
        at += len.next_multiple_of(4).min(buf.len() - at);
        if u32_at(msg, 8) != seq {
            continue;
        }
        if interrupted_is_error && u16_at(msg, 6) & NLM_F_DUMP_INTR != 0 {
            return Err(ObjectsError::Malformed(
                "the dump was interrupted by a change",
            ));
        }
        match u16_at(msg, 4) {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                if msg.len() < NLMSG_HDRLEN + 4 {
                    return Err(ObjectsError::Malformed("short error message"));
                }
                let errno = i32::from_ne_bytes(msg[16..20].try_into().unwrap());
                return Err(ObjectsError::Refused(-errno));
            }
            t if t == (NFNL_SUBSYS_NFTABLES << 8) | want => on(msg)?,
            _ => return Err(ObjectsError::Malformed("unexpected message type")),
        }
    }
    Ok(false)
}

/// The objects in a datagram of the dump answering `seq`, and whether the dump is done.
pub fn decode_dump(buf: &[u8], seq: u32, kind: u16) -> Result<(Vec<Object>, bool), ObjectsError> {
    let (table_attr, name_attr) = match kind {
        NFT_MSG_NEWCHAIN => (NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME),
        _ => (NFTA_SET_TABLE, NFTA_SET_NAME),
    };
    let mut out = Vec::new();
    let done = walk_dump(buf, seq, kind, false, |msg| {
        let (mut table, mut name, mut flags) = (None, None, 0);
        for (a, value) in attributes(msg, NLMSG_HDRLEN + NFGENMSG_LEN)? {
            if a == table_attr {
                table = Some(text(value));
            } else if a == name_attr {
                name = Some(text(value));
            } else if kind == NFT_MSG_NEWSET && a == NFTA_SET_FLAGS {
                let v: [u8; 4] = value
                    .try_into()
                    .map_err(|_| ObjectsError::Malformed("NFTA_SET_FLAGS size"))?;
                flags = u32::from_be_bytes(v);
            }
        }
        match (table, name) {
            (Some(t), Some(n)) => {
                out.push((t, n, flags));
                Ok(())
            }
            _ => Err(ObjectsError::Malformed("an object without a name")),
        }
    })?;
    Ok((out, done))
}

/// Every object of one dump (`NFT_MSG_GETCHAIN` or `NFT_MSG_GETSET`), within `timeout`.
fn dump(get: u16, timeout: Duration) -> Result<Vec<Object>, ObjectsError> {
    let (seq, answer) = (1, get - 1);
    let mut all = Vec::new();
    exchange(&encode_dump(get, seq), timeout, |datagram| {
        let (objects, done) = decode_dump(datagram, seq, answer)?;
        all.extend(objects);
        Ok::<_, ObjectsError>(done.then_some(()))
    })?;
    Ok(all)
}

/// The chains and named sets of `inet <table>`, within `timeout` per dump.
pub fn read(table: &str, timeout: Duration) -> Result<TableObjects, ObjectsError> {
    let names = |objects: Vec<Object>, skip: u32| {
        let mut v: Vec<String> = objects
            .into_iter()
            .filter(|(t, _, flags)| t == table && flags & skip == 0)
            .map(|(_, n, _)| n)
            .collect();
        v.sort_unstable();
        v
    };
    Ok(TableObjects {
        chains: names(dump(NFT_MSG_GETCHAIN, timeout)?, 0),
        sets: names(dump(NFT_MSG_GETSET, timeout)?, NFT_SET_ANONYMOUS),
    })
}

#[cfg(test)]
mod tests;
