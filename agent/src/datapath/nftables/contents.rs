//! What an interval set holds, read over netlink (`NFT_MSG_GETSETELEM` dump) and read
//! back as prefixes: a full apply then sends only the difference between that and the
//! config ([`super::elements::difference`]), usually nothing for a restart over its own
//! table, instead of flushing and refilling every element (the kernel's commit of 10,000
//! interval elements costs about 30 ms of CPU; reading them back, a few).
//!
//! An interval set holds each range as two elements: its start, and its end (the address
//! after its last one, flagged `NFT_SET_ELEM_INTERVAL_END`); a range reaching the family's
//! last address has no end, or an end element at key zero (how the agent writes it,
//! [`super::netlink`]). A range that is not a prefix (a hand-made `10.0.0.1-10.0.0.5`), or
//! elements that do not pair up, make the contents unreadable: the caller then flushes
//! and refills, which needs no reading.

use super::netlink::Message;
use super::objects::{attributes, u16_at, walk_dump, ObjectsError};
use super::socket::exchange;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_GETSETELEM: u16 = 13;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_FLAGS: u16 = 3;
const NFTA_DATA_VALUE: u16 = 1;
const NFT_SET_ELEM_INTERVAL_END: u32 = 1;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NFPROTO_INET: u8 = 1;
const NLMSG_HDRLEN: usize = 16;

/// One element as the kernel holds it: its key (big-endian, `width` bytes: 4 or 16) and
/// whether it ends a range. No allocation per element: a dump holds 20,000 of them for
/// 10,000 prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element {
    pub key: u128,
    pub width: u8,
    pub end: bool,
}

impl Element {
    /// The element with key `key` (4 or 16 bytes; any other length is kept as its length,
    /// which [`prefixes`] refuses).
    pub fn new(key: &[u8], end: bool) -> Element {
        Element {
            key: key.iter().fold(0u128, |v, b| (v << 8) | u128::from(*b)),
            width: key.len().min(255) as u8,
            end,
        }
    }
}

/// The dump request for the elements of `inet <table> <set>`.
pub fn encode_dump(table: &str, set: &str, seq: u32) -> Vec<u8> {
    let mut m = Message::new(
        (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        NFPROTO_INET,
        0,
    );
    m.attr(NFTA_SET_ELEM_LIST_TABLE, &cstr(table));
    m.attr(NFTA_SET_ELEM_LIST_SET, &cstr(set));
    let mut out = Vec::new();
    m.finish(&mut out);
    out
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Calls `f` with each attribute (type without flags, value) of a nested attribute's
/// value, without collecting them.
fn each_nested<'a>(
    mut attrs: &'a [u8],
    mut f: impl FnMut(u16, &'a [u8]) -> Result<(), ObjectsError>,
) -> Result<(), ObjectsError> {
    while attrs.len() >= 4 {
        let len = u16_at(attrs, 0) as usize;
        if len < 4 || len > attrs.len() {
            return Err(ObjectsError::Malformed("attribute length"));
        }
        f(u16_at(attrs, 2) & 0x3fff, &attrs[4..len])?;
        attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
    }
    Ok(())
}

/// The elements in a datagram of the dump answering `seq`, and whether it is done.
pub fn decode_dump(buf: &[u8], seq: u32) -> Result<(Vec<Element>, bool), ObjectsError> {
    let mut out = Vec::new();
    let done = walk_dump(buf, seq, NFT_MSG_NEWSETELEM, true, |msg| {
        let attrs = attributes(msg, NLMSG_HDRLEN + 4)?;
        for (_, list) in attrs
            .iter()
            .filter(|(a, _)| *a == NFTA_SET_ELEM_LIST_ELEMENTS)
        {
            each_nested(list, |a, elem| {
                if a == NFTA_LIST_ELEM {
                    out.push(element(elem)?);
                }
                Ok(())
            })?;
        }
        Ok(())
    })?;
    Ok((out, done))
}

fn element(value: &[u8]) -> Result<Element, ObjectsError> {
    let (mut key, mut flags) = (None, 0);
    each_nested(value, |a, v| {
        match a {
            NFTA_SET_ELEM_KEY => each_nested(v, |d, k| {
                if d == NFTA_DATA_VALUE {
                    key = Some(k);
                }
                Ok(())
            })?,
            NFTA_SET_ELEM_FLAGS => {
                let b: [u8; 4] = v
                    .try_into()
                    .map_err(|_| ObjectsError::Malformed("NFTA_SET_ELEM_FLAGS size"))?;
                flags = u32::from_be_bytes(b);
            }
            _ => {}
        }
        Ok(())
    })?;
    let key = key.ok_or(ObjectsError::Malformed("an element without a key"))?;
    Ok(Element::new(key, flags & NFT_SET_ELEM_INTERVAL_END != 0))
}

/// The prefixes `elements` hold, sorted; `None` when they do not pair up into ranges of
/// one family or a range is not a prefix.
pub fn prefixes(elements: &[Element]) -> Option<Vec<IpNet>> {
    let width = elements.first().map_or(4, |e| e.width);
    if width != 4 && width != 16 || elements.iter().any(|e| e.width != width) {
        return None;
    }
    let last = if width == 4 {
        u128::from(u32::MAX)
    } else {
        u128::MAX
    };
    let mut starts: Vec<u128> = Vec::new();
    let mut ends: Vec<u128> = Vec::new();
    let mut markers = 0;
    for e in elements {
        match (e.end, e.key) {
            (true, 0) => markers += 1,
            (true, k) => ends.push(k),
            (false, k) => starts.push(k),
        }
    }
    starts.sort_unstable();
    ends.sort_unstable();
    // The last range may be open: with an end at key zero (as the agent writes it) or
    // without any end (as nft writes it from a script).
    let open = starts.len() == ends.len() + 1;
    if markers > usize::from(open) || !(open || starts.len() == ends.len()) {
        return None;
    }
    let mut out = Vec::with_capacity(starts.len());
    for (i, start) in starts.iter().enumerate() {
        // The range's last address, inclusive.
        let end = match ends.get(i) {
            Some(e) if e > start => e - 1,
            Some(_) => return None,
            None => last,
        };
        if starts.get(i + 1).is_some_and(|next| *next <= end) {
            return None;
        }
        let span = end - start;
        if span & span.wrapping_add(1) != 0 || start & span != 0 {
            return None;
        }
        let host_bits = span.count_ones() as u8;
        let net = if width == 4 {
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(*start as u32), 32 - host_bits).ok()?)
        } else {
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(*start), 128 - host_bits).ok()?)
        };
        out.push(net);
    }
    Some(out)
}

/// The prefixes of `inet <table> <set>` as the kernel holds them now, within `timeout`;
/// `None` inside `Ok` when they are not all prefixes.
pub fn read(table: &str, set: &str, timeout: Duration) -> Result<Option<Vec<IpNet>>, ObjectsError> {
    let seq = 1;
    let mut all = Vec::new();
    exchange(&encode_dump(table, set, seq), timeout, |datagram| {
        let (elements, done) = decode_dump(datagram, seq)?;
        all.extend(elements);
        Ok::<_, ObjectsError>(done.then_some(()))
    })?;
    Ok(prefixes(&all))
}

#[cfg(test)]
mod tests;
