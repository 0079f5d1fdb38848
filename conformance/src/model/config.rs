//! The config file read as docs/spec.md §2 says the reference reads it: YAML (go-yaml v2,
//! then `encoding/json`) or JSON, keys matched case-insensitively with the last one
//! winning, and validated. Written from the spec, not from any implementation.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::cidr::{parse_cidr, CidrError, Net};
use crate::go_duration::parse_nanos;

/// A config as the file sets it: `None` for a key the file leaves out (docs/spec.md §2,
/// Keys: "every key is optional"; "a key that is present replaces its default entirely").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub non_masquerade_cidrs: Option<Vec<Net>>,
    pub cidr_limit: Option<i64>,
    pub masq_link_local: Option<bool>,
    pub masq_link_local_ipv6: Option<bool>,
    /// The resync interval in nanoseconds (Go durations may be zero or negative, §7).
    pub resync_interval: Option<i64>,
}

/// What reading a file gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A valid config (an empty file is `Config::default()`, §2).
    Valid(Config),
    /// An invalid config, and why (§2 Validation, §5: it is logged and ignored).
    Invalid(String),
    /// Input whose verdict the spec does not settle and the model does not guess.
    NotModelled(String),
}

/// docs/spec.md §2, Keys: the `cidrLimit` default.
pub const DEFAULT_CIDR_LIMIT: i64 = 64;

/// The top-level mapping in document order, duplicates included.
struct Ordered(Option<Vec<(String, Value)>>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Ordered, E> {
                Ok(Ordered(None))
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Ordered, E> {
                Ok(Ordered(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<Value, Value>()? {
                    // sigs.k8s.io/yaml turns every YAML key into a JSON string.
                    let k = match k {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    out.push((k, v));
                }
                Ok(Ordered(Some(out)))
            }
        }
        d.deserialize_any(V)
    }
}

/// The keys of the reference's config struct (docs/spec.md §2, Keys).
const KEYS: [&str; 5] = [
    "nonMasqueradeCIDRs",
    "cidrLimit",
    "masqLinkLocal",
    "masqLinkLocalIPv6",
    "resyncInterval",
];

/// Reads a config file's bytes. `enable_ipv6` is the `--enable-ipv6` flag (an IPv6 CIDR
/// without it is invalid, §2), `default_cidrs` the list that applies when the file does
/// not set one (§3 `--nomasq-all-reserved-ranges`): `cidrLimit` counts the list in force.
pub fn parse(bytes: &[u8], enable_ipv6: bool, default_cidrs: &[Net]) -> Parsed {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        // go-yaml rejects invalid UTF-8 (§2: a document go-yaml rejects is invalid).
        Err(e) => return Parsed::Invalid(format!("not UTF-8: {e}")),
    };
    if text.trim().is_empty() {
        return Parsed::Valid(Config::default()); // §2: an empty file means all defaults
    }
    // §2 Format: a file whose first non-blank byte is `{` is JSON, anything else YAML.
    let json = text.trim_start().starts_with('{');
    let doc = if json {
        serde_json::from_str::<Ordered>(text).map_err(|e| format!("JSON: {e}"))
    } else {
        if text
            .lines()
            .any(|l| l.starts_with("---") && l.trim() != "---")
            || text.matches("\n---").count() + usize::from(text.starts_with("---")) > 1
            || text.contains("\n...")
        {
            return Parsed::NotModelled("several YAML documents".into());
        }
        // §2: go-yaml gives a block scalar on the file's last, unterminated line no final
        // line break; YAML 1.2 readers (this model's) add one.
        let last = text.rsplit('\n').next().unwrap_or("");
        let block_header = |l: &str| {
            let l = l.split(" #").next().unwrap_or(l).trim_end();
            l.trim_end_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-')
                .ends_with(['|', '>'])
        };
        if !last.trim().is_empty() && text.lines().any(block_header) {
            return Parsed::NotModelled(
                "a block scalar and a last line without a line break (go-yaml chomps differently)"
                    .into(),
            );
        }
        // §2: YAML 1.1 booleans are booleans; a key given twice: the last one wins.
        let options = serde_saphyr::options!(
            duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
            strict_booleans: false,
        );
        serde_saphyr::from_str_with_options::<Ordered>(text, options)
            .map_err(|e| format!("YAML: {e}"))
    };
    let entries = match doc {
        Ok(Ordered(Some(e))) => e,
        Ok(Ordered(None)) => return Parsed::Valid(Config::default()), // `null`: no-op
        Err(e) => return Parsed::Invalid(e),
    };
    decode(entries, enable_ipv6, default_cidrs)
}

/// `encoding/json` into the config struct, then validation (§2).
fn decode(entries: Vec<(String, Value)>, enable_ipv6: bool, default_cidrs: &[Net]) -> Parsed {
    let mut c = Config::default();
    let mut cidr_texts: Option<Vec<String>> = None;
    for (key, value) in entries {
        // §2: key names match case-insensitively; unknown keys are ignored; the last wins.
        // (Go also folds the Kelvin sign and the long s; a key with them is not modelled.)
        if key.contains('\u{212a}') || key.contains('\u{17f}') {
            return Parsed::NotModelled(format!("key {key:?} folds only under Unicode rules"));
        }
        let Some(known) = KEYS.iter().find(|k| k.eq_ignore_ascii_case(&key)) else {
            continue;
        };
        if value.is_null() && *known != "resyncInterval" {
            continue; // encoding/json: null leaves a field as it was
        }
        match *known {
            "nonMasqueradeCIDRs" => {
                // §2: a scalar where a list is expected is an error.
                let Value::Array(items) = value else {
                    return Parsed::Invalid(format!("{key}: expected a list, got {value}"));
                };
                let mut texts = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => texts.push(s),
                        other => {
                            return Parsed::Invalid(format!(
                                "{key}: expected CIDR strings, got {other}"
                            ))
                        }
                    }
                }
                cidr_texts = Some(texts);
            }
            "cidrLimit" => match &value {
                Value::Number(n) if n.is_i64() => c.cidr_limit = n.as_i64(),
                Value::Number(n) if n.is_f64() => {
                    // sigs.k8s.io/yaml may print an integral float as an integer.
                    return Parsed::NotModelled(format!("{key}: a float ({n})"));
                }
                other => {
                    return Parsed::Invalid(format!("{key}: expected an integer, got {other}"))
                }
            },
            "masqLinkLocal" | "masqLinkLocalIPv6" => {
                // §2: a quoted "true" given for a boolean is an error.
                let Value::Bool(b) = value else {
                    return Parsed::Invalid(format!("{key}: expected a boolean, got {value}"));
                };
                if *known == "masqLinkLocal" {
                    c.masq_link_local = Some(b);
                } else {
                    c.masq_link_local_ipv6 = Some(b);
                }
            }
            "resyncInterval" => {
                // §2: a bare number is an error; it must be a Go duration string.
                match &value {
                    // §7: zero or below is accepted.
                    Value::String(s) => match parse_nanos(s) {
                        Ok(n) => c.resync_interval = Some(n),
                        Err(e) => return Parsed::Invalid(format!("{key}: {e}")),
                    },
                    Value::Null => {
                        return Parsed::NotModelled(format!("{key}: null"));
                    }
                    other => {
                        return Parsed::Invalid(format!(
                            "{key}: expected a duration string, got {other}"
                        ))
                    }
                }
            }
            _ => unreachable!("every known key is matched"),
        }
    }
    // §2 Validation: each CIDR as net.ParseCIDR parses it, a network address, IPv6 only
    // while IPv6 is enabled.
    if let Some(texts) = cidr_texts {
        let mut nets = Vec::new();
        for t in &texts {
            match parse_cidr(t) {
                Ok(n) if n.is_ipv6() && !enable_ipv6 => {
                    return Parsed::Invalid(format!("{t}: IPv6 while IPv6 is not enabled"))
                }
                Ok(n) => nets.push(n),
                Err(CidrError::NotModelled(m)) => return Parsed::NotModelled(m),
                Err(CidrError::Parse(m) | CidrError::NotNetwork(m)) => return Parsed::Invalid(m),
            }
        }
        c.non_masquerade_cidrs = Some(nets);
    }
    // §2 Validation: more entries than cidrLimit (counting the list in force).
    let count = c
        .non_masquerade_cidrs
        .as_ref()
        .map_or(default_cidrs.len(), Vec::len);
    let limit = c.cidr_limit.unwrap_or(DEFAULT_CIDR_LIMIT);
    if count as i64 > limit {
        return Parsed::Invalid(format!("{count} CIDRs, more than cidrLimit {limit}"));
    }
    Parsed::Valid(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Parsed {
        parse(text.as_bytes(), false, &[])
    }

    fn valid(text: &str) -> Config {
        match p(text) {
            Parsed::Valid(c) => c,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    fn invalid(text: &str) {
        assert!(
            matches!(p(text), Parsed::Invalid(_)),
            "{text:?}: {:?}",
            p(text)
        );
    }

    #[test]
    fn the_quirks_of_section_2() {
        assert_eq!(valid(""), Config::default());
        assert_eq!(valid("  \n"), Config::default());
        assert_eq!(valid("# only a comment\n"), Config::default());
        let c = valid("NonMasqueradeCIDRs: [\"192.168.0.0/16\"]\nMASQLINKLOCAL: yes\n");
        assert_eq!(c.non_masquerade_cidrs.unwrap().len(), 1);
        assert_eq!(c.masq_link_local, Some(true));
        assert_eq!(valid("masqLinkLocal: off\n").masq_link_local, Some(false));
        let c = valid("nonMasqueradeCIDRs: [\"10.0.0.0/8\"]\nmasqLinkLocal: true\nNonMasqueradeCIDRs: [\"172.16.0.0/12\"]\nmasqLinkLocal: false\nnonMasqueradeCIDRs: [\"192.168.0.0/16\"]\n");
        assert_eq!(
            c.non_masquerade_cidrs.unwrap()[0].to_string(),
            "192.168.0.0/16"
        );
        assert_eq!(c.masq_link_local, Some(false));
        invalid("masqLinkLocal: \"true\"\n");
        invalid("resyncInterval: 30\n");
        invalid("resyncInterval: 3x\n");
        invalid("nonMasqueradeCIDRs: 10.0.0.0/8\n");
        invalid("nonMasqueradeCIDRs: [\"010.0.0.0/8\"]\n");
        invalid("nonMasqueradeCIDRs: [\"10.0.0.1/8\"]\n");
        invalid("nonMasqueradeCIDRs: [\"fd00::/8\"]\n");
        invalid("nonMasqueradeCIDRs: [\"10.0.0.0/8\", \"11.0.0.0/8\"]\ncidrLimit: 1\n");
        invalid("cidrLimit: \"64\"\n");
        invalid("nonMasqueradeCIDRs: [\n");
        invalid("- a\n- b\n");
        invalid("just a string\n");
        invalid("{\"nonMasqueradeCIDRs\": [\"10.0.0.0/8\"],}");
        assert_eq!(
            valid(
                "  {\"ResyncInterval\": \"1m30s\", \"cidrLimit\": 0, \"nonMasqueradeCIDRs\": []}"
            )
            .resync_interval,
            Some(90_000_000_000)
        );
        assert!(matches!(
            parse(b"nonMasqueradeCIDRs: [\"fd00::/8\"]\n", true, &[]),
            Parsed::Valid(_)
        ));
        assert!(matches!(
            parse(&[0xff, 0xfe, 0x80], false, &[]),
            Parsed::Invalid(_)
        ));
    }
}
