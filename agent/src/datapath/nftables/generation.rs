//! The nftables ruleset generation, read over netlink: one `NFT_MSG_GETGEN` request on a
//! `NETLINK_NETFILTER` socket, answered by `NFT_MSG_NEWGEN` with `NFTA_GEN_ID`.
//!
//! The kernel bumps this counter (per network namespace) at every nftables commit,
//! whoever makes it: an unchanged generation proves nothing was committed since it was
//! read, which lets a steady-state round skip `nft list table` (`super::sync`). Reading
//! it costs one round trip on the agent's kept socket (microseconds), against tens of milliseconds
//! for nft to list a table of 10,000 elements. The message is small and fixed, so it is
//! built here rather than through a netlink crate (see `crate::datapath::Cli` for why nft
//! itself stays a child process).
//!
//! Constants: include/uapi/linux/netlink.h, include/uapi/linux/netfilter/nfnetlink.h and
//! include/uapi/linux/netfilter/nf_tables.h.

use super::netlink::Message;
use super::socket::{Channel, SocketError};

/// `NFNL_SUBSYS_NFTABLES` (nfnetlink.h).
const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// `NFT_MSG_NEWGEN` (nf_tables.h, enum nf_tables_msg_types): the answer.
const NFT_MSG_NEWGEN: u16 = 15;
/// `NFT_MSG_GETGEN`: the request.
const NFT_MSG_GETGEN: u16 = 16;
/// `NFTA_GEN_ID` (enum nft_gen_attributes): u32, network byte order.
const NFTA_GEN_ID: u16 = 1;
/// `NLMSG_ERROR` (netlink.h): an error (or an ack, with errno 0).
const NLMSG_ERROR: u16 = 2;
/// `NLM_F_REQUEST`.
const NLM_F_REQUEST: u16 = 1;
/// `AF_UNSPEC`: the generation is not per family.
const AF_UNSPEC: u8 = 0;
/// `struct nlmsghdr`: len u32, type u16, flags u16, seq u32, pid u32.
const NLMSG_HDRLEN: usize = 16;
/// `struct nfgenmsg`: family u8, version u8, res_id be16.
const NFGENMSG_LEN: usize = 4;
/// `NLA_TYPE_MASK`: the attribute type without the nested/byte-order flags.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// Why the generation could not be read: the caller then does without it.
#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("the kernel refused NFT_MSG_GETGEN: errno {0}")]
    Refused(i32),
    #[error("malformed netlink answer: {0}")]
    Malformed(&'static str),
}

/// The request: `nlmsghdr` + `nfgenmsg`, no attributes.
pub fn encode_request(seq: u32) -> Vec<u8> {
    let mut m = Vec::new();
    Message::new(
        (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN,
        NLM_F_REQUEST,
        seq,
        AF_UNSPEC,
        0,
    )
    .finish(&mut m);
    m
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The generation in a datagram answering request `seq`: `Ok(None)` when it holds no
/// message of ours (another sequence number), so the caller keeps receiving.
pub fn decode_answer(buf: &[u8], seq: u32) -> Result<Option<u32>, GenerationError> {
    let mut at = 0;
    while buf.len() - at >= NLMSG_HDRLEN {
        let len = u32_at(buf, at) as usize;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            return Err(GenerationError::Malformed("message length"));
        }
        let msg = &buf[at..at + len];
        at += len.next_multiple_of(4).min(buf.len() - at);
        if u32_at(msg, 8) != seq {
            continue;
        }
        match u16_at(msg, 4) {
            NLMSG_ERROR => {
                if msg.len() < NLMSG_HDRLEN + 4 {
                    return Err(GenerationError::Malformed("short error message"));
                }
                let errno = i32::from_ne_bytes(msg[16..20].try_into().unwrap());
                return Err(GenerationError::Refused(-errno));
            }
            t if t == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN => {
                return gen_id(msg.get(NLMSG_HDRLEN + NFGENMSG_LEN..).unwrap_or_default()).map(Some)
            }
            _ => return Err(GenerationError::Malformed("unexpected message type")),
        }
    }
    Ok(None)
}

/// `NFTA_GEN_ID` among a message's attributes (each `nlattr`: len u16, type u16, value,
/// padded to 4 bytes).
fn gen_id(mut attrs: &[u8]) -> Result<u32, GenerationError> {
    while attrs.len() >= 4 {
        let len = u16_at(attrs, 0) as usize;
        if len < 4 || len > attrs.len() {
            return Err(GenerationError::Malformed("attribute length"));
        }
        if u16_at(attrs, 2) & NLA_TYPE_MASK == NFTA_GEN_ID {
            let v: [u8; 4] = attrs[4..len]
                .try_into()
                .map_err(|_| GenerationError::Malformed("NFTA_GEN_ID size"))?;
            return Ok(u32::from_be_bytes(v));
        }
        attrs = &attrs[len.next_multiple_of(4).min(attrs.len())..];
    }
    Err(GenerationError::Malformed("no NFTA_GEN_ID"))
}

/// The current generation of this network namespace's nftables ruleset, read over
/// `channel` within its timeout.
pub fn read(channel: &mut Channel) -> Result<u32, GenerationError> {
    let seq = channel.sequence(1);
    channel.exchange(&encode_request(seq), |answer| decode_answer(answer, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NEWGEN answer as the kernel builds it (nf_tables_fill_gen_info).
    fn newgen(seq: u32, id: u32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&28u32.to_ne_bytes());
        m.extend_from_slice(&((10u16 << 8) | 15).to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&[0, 0]);
        m.extend_from_slice(&((id & 0xffff) as u16).to_be_bytes());
        m.extend_from_slice(&8u16.to_ne_bytes());
        m.extend_from_slice(&1u16.to_ne_bytes());
        m.extend_from_slice(&id.to_be_bytes());
        m
    }

    #[test]
    fn the_request_is_getgen_of_the_nftables_subsystem() {
        let m = encode_request(7);
        assert_eq!(m.len(), 20);
        assert_eq!(u32_at(&m, 0), 20);
        assert_eq!(u16_at(&m, 4), 0x0a10);
        assert_eq!(u16_at(&m, 6), 1);
        assert_eq!(u32_at(&m, 8), 7);
        assert_eq!(&m[16..], &[0, 0, 0, 0]);
    }

    #[test]
    fn the_answer_carries_the_generation_big_endian() {
        assert_eq!(
            decode_answer(&newgen(1, 0x0102_0304), 1).unwrap(),
            Some(0x0102_0304)
        );
        // Another request's answer is not ours: keep receiving.
        assert_eq!(decode_answer(&newgen(2, 5), 1).unwrap(), None);
        // Two messages in one datagram: ours is found after the other.
        let mut two = newgen(2, 5);
        two.extend(newgen(1, 6));
        assert_eq!(decode_answer(&two, 1).unwrap(), Some(6));
    }

    #[test]
    fn an_error_or_a_malformed_answer_is_an_error() {
        let mut err = Vec::new();
        err.extend_from_slice(&36u32.to_ne_bytes());
        err.extend_from_slice(&2u16.to_ne_bytes());
        err.extend_from_slice(&0u16.to_ne_bytes());
        err.extend_from_slice(&1u32.to_ne_bytes());
        err.extend_from_slice(&0u32.to_ne_bytes());
        err.extend_from_slice(&(-1i32).to_ne_bytes());
        err.extend(encode_request(1));
        assert!(matches!(
            decode_answer(&err, 1),
            Err(GenerationError::Refused(1))
        ));
        let mut short = newgen(1, 5);
        short[0] = 40; // longer than the datagram
        assert!(matches!(
            decode_answer(&short, 1),
            Err(GenerationError::Malformed(_))
        ));
        let mut no_id = newgen(1, 5);
        no_id[22] = 2; // attribute type 2 is not NFTA_GEN_ID
        assert!(matches!(
            decode_answer(&no_id, 1),
            Err(GenerationError::Malformed("no NFTA_GEN_ID"))
        ));
    }
}
