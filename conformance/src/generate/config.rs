//! Generated configs: a sequence of configs (valid and invalid, in every form the spec's
//! quirks allow), drawn from a [`Rng`] seeded per case.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::model;
use crate::model::parse_cidr;
use crate::vocabulary::Flags;

/// SplitMix64: small, fast, and the same on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next_u64();
        r
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// How a boolean is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoolForm {
    /// `true`, `false`, `yes`, `no`, `on`, `off` (YAML 1.1, §2) or JSON's.
    Plain(&'static str),
    /// `"true"`: an error (§2).
    Quoted(&'static str),
}

/// One generated config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenConfig {
    /// No file (§5: defaults again). Only last in a sequence: the defaults' 60 s interval
    /// would stall every later config.
    Absent,
    /// A mapping, written as YAML or JSON.
    Map {
        json: bool,
        /// The entries of `nonMasqueradeCIDRs` as written, or `None` for no key; a
        /// `Some` with `scalar` writes the first entry as a bare scalar (an error).
        cidrs: Option<Vec<String>>,
        scalar: bool,
        cidr_limit: Option<i64>,
        masq_link_local: Option<BoolForm>,
        masq_link_local_ipv6: Option<BoolForm>,
        /// `resyncInterval` as written (a string), or a bare number (an error).
        resync: Result<&'static str, u32>,
        /// Key spellings: index into the case variants.
        key_case: usize,
        unknown_key: bool,
    },
    /// YAML go-yaml rejects.
    Malformed,
}

const RESYNC_SPELLINGS: [&str; 3] = ["100ms", "0.1s", "100000us"];

fn key(name: &str, variant: usize) -> String {
    match variant % 4 {
        0 => name.to_string(),
        1 => {
            let mut c = name.chars();
            let first = c.next().unwrap().to_ascii_uppercase();
            std::iter::once(first).chain(c).collect()
        }
        2 => name.to_ascii_uppercase(),
        _ => name.to_ascii_lowercase(),
    }
}

impl GenConfig {
    /// The file's bytes (`None`: absent).
    pub fn render(&self) -> Option<String> {
        let GenConfig::Map {
            json,
            cidrs,
            scalar,
            cidr_limit,
            masq_link_local,
            masq_link_local_ipv6,
            resync,
            key_case,
            unknown_key,
        } = self
        else {
            return match self {
                GenConfig::Malformed => {
                    Some("nonMasqueradeCIDRs: [\"10.0.0.0/8\"\nresyncInterval: 100ms\n".to_string())
                }
                _ => None,
            };
        };
        let mut entries: Vec<(String, String)> = Vec::new();
        let q = |s: &str| format!("\"{s}\"");
        if *unknown_key {
            entries.push(("someFutureKey".into(), q("x")));
        }
        if let Some(list) = cidrs {
            let value = if *scalar && !list.is_empty() {
                q(&list[0])
            } else {
                format!(
                    "[{}]",
                    list.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ")
                )
            };
            entries.push((key("nonMasqueradeCIDRs", *key_case), value));
        }
        if let Some(l) = cidr_limit {
            entries.push((key("cidrLimit", *key_case + 1), l.to_string()));
        }
        let b = |f: &BoolForm| match f {
            BoolForm::Plain(v) => v.to_string(),
            BoolForm::Quoted(v) => q(v),
        };
        if let Some(f) = masq_link_local {
            entries.push((key("masqLinkLocal", *key_case + 2), b(f)));
        }
        if let Some(f) = masq_link_local_ipv6 {
            entries.push((key("masqLinkLocalIPv6", *key_case + 3), b(f)));
        }
        let resync = match resync {
            Ok(s) => q(s),
            Err(n) => n.to_string(),
        };
        entries.push(("resyncInterval".into(), resync));
        let mut out = String::new();
        if *json {
            let body: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("  {}: {v}", q(k)))
                .collect();
            let _ = write!(out, "{{\n{}\n}}\n", body.join(",\n"));
        } else {
            for (k, v) in entries {
                let _ = writeln!(out, "{k}: {v}");
            }
        }
        Some(out)
    }

    /// The model's reading of it under `flags`.
    pub fn reading(&self, flags: &Flags) -> model::Reading {
        let published = match self.render() {
            None => model::Published::Absent,
            Some(t) => model::Published::Bytes(t.into_bytes()),
        };
        model::read(&published, flags)
    }
}

/// A random IPv4 network of a random length; sometimes an edge case.
fn random_v4(rng: &mut Rng) -> String {
    match rng.below(20) {
        0 => "0.0.0.0/0".into(),
        1 => format!("{}/32", Ipv4Addr::from(rng.next_u64() as u32)),
        2 => {
            // A leading zero: Go 1.17+ rejects it (§2).
            let a = Ipv4Addr::from((rng.next_u64() as u32) & 0xff00_0000);
            let o = a.octets();
            format!("0{}.{}.{}.{}/8", o[0], o[1], o[2], o[3])
        }
        3 => "10.0.0.0/33".into(),
        _ => {
            let len = 1 + rng.below(32) as u8;
            let addr = Ipv4Addr::from(rng.next_u64() as u32);
            // One in six unaligned (not a network address: an error, §2).
            let addr = if rng.chance(16) {
                addr
            } else {
                crate::model::cidr::mask4(addr, len)
            };
            format!("{addr}/{len}")
        }
    }
}

fn random_v6(rng: &mut Rng) -> String {
    let len = [8u8, 16, 32, 48, 64, 96, 112, 128][rng.below(8) as usize];
    let base: u128 = if rng.chance(50) {
        0xfd00u128 << 112
    } else {
        0x2001_0db8u128 << 96
    };
    let addr = Ipv6Addr::from(
        base | (u128::from(rng.next_u64()) << 32) | u128::from(rng.next_u64() as u32),
    );
    let addr = if rng.chance(10) {
        addr
    } else {
        crate::model::cidr::mask6(addr, len)
    };
    format!("{addr}/{len}")
}

fn random_bool(rng: &mut Rng) -> BoolForm {
    if rng.chance(8) {
        const QUOTED: [&str; 2] = ["true", "false"];
        BoolForm::Quoted(QUOTED[rng.below(2) as usize])
    } else {
        const PLAIN: [&str; 6] = ["true", "false", "yes", "no", "on", "off"];
        BoolForm::Plain(PLAIN[rng.below(6) as usize])
    }
}

pub(super) fn random_config(rng: &mut Rng, ipv6: bool, json: bool) -> GenConfig {
    if rng.chance(4) {
        return GenConfig::Malformed;
    }
    let cidrs = if rng.chance(85) {
        let n = rng.below(6) as usize;
        let mut list: Vec<String> = Vec::new();
        for _ in 0..n {
            let c = match rng.below(10) {
                0 if !list.is_empty() => list[rng.below(list.len() as u64) as usize].clone(), // duplicate
                1 if !list.is_empty() => {
                    // an overlap: a subnet of an earlier entry, when it can be made
                    let earlier = list[rng.below(list.len() as u64) as usize].clone();
                    match parse_cidr(&earlier) {
                        Ok(n) if n.addr.is_ipv4() && n.len < 32 => {
                            format!("{}/{}", n.addr, n.len + 1)
                        }
                        _ => random_v4(rng),
                    }
                }
                2 | 3 if ipv6 || rng.chance(15) => random_v6(rng),
                4 => rng.pick(&model::DEFAULT_CIDRS).to_string(),
                _ => random_v4(rng),
            };
            list.push(c);
        }
        Some(list)
    } else {
        None
    };
    let len = cidrs.as_ref().map_or(3, Vec::len) as i64;
    GenConfig::Map {
        json,
        scalar: cidrs.is_some() && rng.chance(3),
        cidrs,
        cidr_limit: rng.chance(20).then(|| len - 1 + rng.below(3) as i64),
        masq_link_local: rng.chance(40).then(|| random_bool(rng)),
        masq_link_local_ipv6: rng.chance(25).then(|| random_bool(rng)),
        resync: if rng.chance(3) {
            Err(100)
        } else {
            Ok(*rng.pick(&RESYNC_SPELLINGS))
        },
        key_case: if rng.chance(20) {
            rng.below(4) as usize
        } else {
            0
        },
        unknown_key: rng.chance(10),
    }
}
