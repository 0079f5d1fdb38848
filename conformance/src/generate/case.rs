//! Generated cases: flags, a sequence of configs (valid and invalid, in every form the
//! spec's quirks allow), and destinations at the edges of every range; rendered as a
//! fixture. Deterministic: everything comes from a [`Rng`] seeded per case.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::config::{random_config, GenConfig, Rng};
use crate::model;
use crate::model::{parse_cidr, Net};
use crate::vocabulary::addresses;
use crate::vocabulary::Flags;

/// Whether the rules two histories write differ (docs/spec.md §4: the RETURN list, the
/// link-local lines; the IPv6 one only with --enable-ipv6).
fn rules_differ(a: &model::History, b: &model::History, flags: &Flags) -> bool {
    match (a.rules(), b.rules()) {
        (Ok(Some(x)), Ok(Some(y))) => {
            x.cidrs != y.cidrs
                || x.masq_link_local != y.masq_link_local
                || (flags.enable_ipv6 && x.masq_link_local_ipv6 != y.masq_link_local_ipv6)
        }
        (Ok(x), Ok(y)) => x.is_some() != y.is_some(),
        _ => false,
    }
}

/// A generated case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenCase {
    pub flags: Vec<String>,
    pub configs: Vec<GenConfig>,
    /// `(name, address)`, probed after every config.
    pub destinations: Vec<(String, IpAddr)>,
}

/// Addresses the sandbox cannot or should not carry as a destination.
fn unusable(a: IpAddr) -> bool {
    if addresses::reserved(a) {
        return true;
    }
    match a {
        IpAddr::V4(v) => {
            let o = v.octets();
            o[0] == 0 || o[0] >= 224 || o[0] == 127
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            // link-local is not forwarded (fixtures/README.md), v4-mapped and the rest
            // outside unicast global/ULA space are left out
            (s[0] & 0xffc0) == 0xfe80
                || !(s[0] == 0x2001 && s[1] == 0x0db8 || (s[0] & 0xff00) == 0xfd00)
        }
    }
}

/// The networks a CIDR with leading-zero octets reads as in decimal and in octal.
fn misreadings(text: &str) -> Vec<Net> {
    let Some((addr, len)) = text.split_once('/') else {
        return Vec::new();
    };
    let octets: Vec<&str> = addr.split('.').collect();
    if octets.len() != 4 || !octets.iter().any(|o| o.len() > 1 && o.starts_with('0')) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for radix in [10, 8] {
        let read: Option<Vec<String>> = octets
            .iter()
            .map(|o| {
                let r = if o.len() > 1 && o.starts_with('0') {
                    radix
                } else {
                    10
                };
                u8::from_str_radix(o, r).ok().map(|v| v.to_string())
            })
            .collect();
        if let Some(read) = read {
            if let Ok(n) = parse_cidr(&format!("{}/{len}", read.join("."))) {
                out.push(n);
            }
        }
    }
    out
}

fn step(a: IpAddr, up: bool) -> Option<IpAddr> {
    match a {
        IpAddr::V4(v) => {
            let n = u32::from(v);
            let m = if up {
                n.checked_add(1)?
            } else {
                n.checked_sub(1)?
            };
            Some(Ipv4Addr::from(m).into())
        }
        IpAddr::V6(v) => {
            let n = u128::from(v);
            let m = if up {
                n.checked_add(1)?
            } else {
                n.checked_sub(1)?
            };
            Some(Ipv6Addr::from(m).into())
        }
    }
}

/// Destinations at the edges of every range the case configures, plus the defaults,
/// link-local, and random ones; at most `max`.
fn destinations(
    rng: &mut Rng,
    configs: &[GenConfig],
    flags: &Flags,
    max: usize,
) -> Vec<(String, IpAddr)> {
    let mut nets: Vec<Net> = flags.default_cidrs();
    nets.extend(
        model::DEFAULT_CIDRS
            .iter()
            .filter_map(|c| parse_cidr(c).ok()),
    );
    nets.push(parse_cidr(model::LINK_LOCAL_V4).expect("valid"));
    for c in configs {
        if let GenConfig::Map {
            cidrs: Some(list), ..
        } = c
        {
            nets.extend(list.iter().filter_map(|t| parse_cidr(t).ok()));
            // An octet with a leading zero is invalid (§2), but an implementation that
            // lets it through installs the decimal or, through iptables, the octal
            // reading: probe the edges of both.
            nets.extend(list.iter().flat_map(|t| misreadings(t)));
        }
    }
    let mut candidates: Vec<(String, IpAddr)> = Vec::new();
    for n in &nets {
        let (first, last) = n.bounds();
        let inside_first = if n.len < 31 && n.addr.is_ipv4() {
            step(first, true)
        } else {
            Some(first)
        };
        let inside_last = if n.len < 31 && n.addr.is_ipv4() {
            step(last, false)
        } else {
            Some(last)
        };
        for (kind, a) in [
            ("first", inside_first),
            ("last", inside_last),
            ("below", step(first, false)),
            ("above", step(last, true)),
        ] {
            if let Some(a) = a {
                candidates.push((kind.to_string(), a));
            }
        }
        let random = match n.bounds() {
            (IpAddr::V4(f), IpAddr::V4(l)) => {
                let span = u64::from(u32::from(l) - u32::from(f)) + 1;
                IpAddr::V4(Ipv4Addr::from(u32::from(f) + rng.below(span) as u32))
            }
            (IpAddr::V6(f), _) => {
                let host = u128::MAX.checked_shr(u32::from(n.len)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(
                    u128::from(f) | (u128::from(rng.next_u64()) & host),
                ))
            }
            _ => continue,
        };
        candidates.push(("in".into(), random));
    }
    for _ in 0..3 {
        candidates.push((
            "any".into(),
            IpAddr::V4(Ipv4Addr::from(rng.next_u64() as u32)),
        ));
    }
    candidates.push(("any".into(), "2001:db8:ffff::77".parse().expect("valid")));
    candidates.push(("any".into(), "fd00:10:96::77".parse().expect("valid")));
    // The standard destinations are probed anyway (and already live in the world).
    let mut seen: std::collections::BTreeSet<IpAddr> = crate::vocabulary::standard_targets()
        .into_iter()
        .map(|t| t.address)
        .collect();
    candidates.retain(|(_, a)| !unusable(*a) && seen.insert(*a));
    // A fair subset when there are too many: shuffle deterministically, keep `max`.
    for i in (1..candidates.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        candidates.swap(i, j);
    }
    candidates.truncate(max);
    candidates.sort_by_key(|(_, a)| *a);
    candidates
        .into_iter()
        .enumerate()
        .map(|(i, (kind, a))| (format!("{kind}-{i}"), a))
        .collect()
}

/// Generates case number `index` of `seed`: `configs` configs at most.
pub fn generate(seed: u64, index: u64, configs: usize) -> GenCase {
    let mut rng = Rng::new(seed, index);
    let ipv6 = rng.chance(40);
    let mut flags = Vec::new();
    if ipv6 {
        flags.push("--enable-ipv6".to_string());
    }
    if rng.chance(25) {
        flags.push(
            if rng.chance(50) {
                "--nomasq-all-reserved-ranges"
            } else {
                "--nomasq-all-reserved-ranges=true"
            }
            .into(),
        );
    }
    if rng.chance(15) {
        flags.push(format!("--masq-chain=GEN-{}", rng.below(1000)));
    }
    if rng.chance(15) {
        flags.push("--random-fully=false".into());
    }
    if rng.chance(12) {
        flags.push("--to-ports".into());
        flags.push(
            rng.pick(&["1024-29999", "40000-40099,50000", "32768-65535"])
                .to_string(),
        );
    }
    let parsed = Flags::from_args(&flags).expect("generated flags parse");
    let json = rng.chance(25);
    let n = 1 + rng.below(configs as u64) as usize;
    let mut list = Vec::new();
    // The first config is valid by the model, so the implementation's interval is 100ms
    // from the start (an invalid one at start would leave it at the default 60 s).
    let first = loop {
        let c = random_config(&mut rng, ipv6, json);
        if matches!(c.reading(&parsed), model::Reading::Good(_)) {
            break c;
        }
    };
    list.push(first);
    for _ in 1..n {
        let json = rng.chance(25);
        list.push(random_config(&mut rng, ipv6, json));
    }
    if rng.chance(10) {
        list.push(GenConfig::Absent);
    }
    let destinations = destinations(&mut rng, &list, &parsed, 24);
    GenCase {
        flags,
        configs: list,
        destinations,
    }
}

impl GenCase {
    /// Whether the case can run quickly: its first config is valid by the model (an
    /// invalid one at start leaves the implementation's interval at the default 60 s) and
    /// a removal, which brings that default back, comes last.
    pub fn runnable(&self) -> bool {
        let Ok(flags) = Flags::from_args(&self.flags) else {
            return false;
        };
        let absent_last = self
            .configs
            .iter()
            .position(|c| *c == GenConfig::Absent)
            .is_none_or(|p| p + 1 == self.configs.len());
        absent_last
            && self
                .configs
                .first()
                .is_some_and(|c| matches!(c.reading(&flags), model::Reading::Good(_)))
    }

    /// The features the case exercises (fixtures/README.md's vocabulary).
    fn features(&self) -> Vec<&'static str> {
        let flags = Flags::from_args(&self.flags).unwrap_or_default();
        let mut features = vec!["non-masquerade-cidrs"];
        if self.configs.len() > 1 {
            features.push("resync");
        }
        if self
            .configs
            .iter()
            .any(|c| !matches!(c.reading(&flags), model::Reading::Good(_)))
        {
            features.push("keep-last-good");
        }
        for (flag, feature) in [
            ("enable-ipv6", "ipv6"),
            ("nomasq-all-reserved-ranges", "nomasq-all-reserved-ranges"),
            ("masq-chain", "masq-chain"),
            ("random-fully", "random-fully"),
            ("to-ports", "to-ports"),
        ] {
            if self.flags.iter().any(|f| f.contains(flag)) && !features.contains(&feature) {
                features.push(feature);
            }
        }
        features
    }

    /// The case as a fixture file, declaring what its configs and flags use too
    /// (`fixture::uses`), as every fixture of the corpus must.
    pub fn fixture_text(&self, description: &str) -> String {
        let mut features: Vec<String> = self.features().iter().map(|f| f.to_string()).collect();
        let draft = self.fixture_text_with(description, &features);
        if let Ok(f) = crate::fixture::Fixture::from_text(std::path::Path::new("generated"), &draft)
        {
            for (feature, _) in crate::fixture::uses::implied(&f) {
                if !features.contains(&feature.name()) {
                    features.push(feature.name());
                }
            }
        }
        self.fixture_text_with(description, &features)
    }

    fn fixture_text_with(&self, description: &str, features: &[String]) -> String {
        let mut out = String::from("# yaml-language-server: $schema=./schema.json\n");
        let _ = writeln!(out, "description: {}", serde_json::Value::from(description));
        let _ = writeln!(out, "features: [{}]", features.join(", "));
        if !self.flags.is_empty() {
            let flags: Vec<String> = self
                .flags
                .iter()
                .map(|f| serde_json::Value::from(f.as_str()).to_string())
                .collect();
            let _ = writeln!(out, "flags: [{}]", flags.join(", "));
        }
        out.push_str("resync_interval: 100ms\n");
        if !self.destinations.is_empty() {
            out.push_str("destinations:\n");
            for (name, a) in &self.destinations {
                let _ = writeln!(out, "  - {{name: {name}, address: \"{a}\"}}");
            }
        }
        out.push_str("steps:\n");
        let flags = Flags::from_args(&self.flags).unwrap_or_default();
        let mut history = model::History::default();
        for c in &self.configs {
            let before = history.clone();
            let published = match c.render() {
                None => model::Published::Absent,
                Some(t) => model::Published::Bytes(t.into_bytes()),
            };
            history.publish(&published, &flags);
            match c.render() {
                // A removal cannot be seen being read: wait for the rules to change when
                // the model says they must (time alone is not enough on a busy machine).
                // rules-changed sees IPv4 change; IPv6 follows in the same resync (§5),
                // given two more periods.
                None if rules_differ(&before, &history, &flags) => out.push_str(
                    "  - config: null\n  - wait: rules-changed\n  - wait: {unobservable-resyncs: 2}\n",
                ),
                None => out.push_str("  - config: null\n  - wait: {unobservable-resyncs: 3}\n"),
                Some(text) => {
                    let _ = writeln!(
                        out,
                        "  - config: {{raw: {}}}",
                        serde_json::Value::from(text)
                    );
                    out.push_str("  - wait: {reads: 1}\n");
                }
            }
            out.push_str("  - probe: all\n  - snapshot: outcome\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_gives_loadable_runnable_fixtures() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..200 {
            let a = generate(7, i, 6);
            assert_eq!(a, generate(7, i, 6), "case {i}");
            assert!(a.runnable(), "case {i}: {a:?}");
            let path = dir.path().join(format!("c{i}.yaml"));
            std::fs::write(&path, a.fixture_text("generated")).unwrap();
            let f = crate::fixture::Fixture::load(&path).unwrap_or_else(|e| panic!("{e}"));
            for (feature, why) in crate::fixture::uses::implied(&f) {
                assert!(
                    f.features.contains(&feature),
                    "case {i}: {why} needs {feature}"
                );
            }
            let predicted = crate::model::replay::predict(&f).unwrap();
            assert_eq!(predicted.len(), a.configs.len());
        }
        assert_ne!(generate(7, 0, 6), generate(8, 0, 6));
        let m: Vec<String> = misreadings("014.0.0.0/8")
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(m, ["14.0.0.0/8", "12.0.0.0/8"]);
    }
}
