//! The implementation's flags that decide outcomes (docs/spec.md §3), typed once when a
//! fixture loads: the runner checks translated ports against them, the model predicts
//! from them.

use std::ops::RangeInclusive;

/// The flags of docs/spec.md §3 that decide outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Flags {
    /// `--nomasq-all-reserved-ranges`.
    pub nomasq_all_reserved_ranges: bool,
    /// `--enable-ipv6`.
    pub enable_ipv6: bool,
    /// `--random-fully` (default true); decides no address, only how ports are picked.
    pub random_fully: bool,
    /// `--to-ports`, parsed: the ranges translated tcp/udp/sctp source ports come from.
    pub to_ports: Vec<RangeInclusive<u16>>,
}

/// Go's `strconv.ParseBool`, which the `flag` package uses for boolean flags.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl Flags {
    /// Reads the flags of a command line (both `--flag=value` and `--flag value`, §3).
    /// Flags that decide no outcome (`--masq-chain`, klog's) are skipped.
    pub fn from_args(args: &[String]) -> Result<Flags, String> {
        let mut f = Flags {
            random_fully: true, // §3: default true
            ..Flags::default()
        };
        let mut i = 0;
        while i < args.len() {
            let arg = args[i].trim_start_matches('-');
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (arg, None),
            };
            let boolean = |slot: &mut bool| -> Result<(), String> {
                // A Go boolean flag takes its value only in the `=` form.
                *slot = match &inline {
                    None => true,
                    Some(v) => go_bool(v).ok_or_else(|| format!("--{name}={v}: not a boolean"))?,
                };
                Ok(())
            };
            match name {
                "nomasq-all-reserved-ranges" => boolean(&mut f.nomasq_all_reserved_ranges)?,
                "enable-ipv6" => boolean(&mut f.enable_ipv6)?,
                "random-fully" => boolean(&mut f.random_fully)?,
                "to-ports" => {
                    let v = match inline {
                        Some(v) => v,
                        None => {
                            i += 1;
                            args.get(i).cloned().ok_or("--to-ports needs a value")?
                        }
                    };
                    f.to_ports = parse_port_ranges(&v)?;
                }
                _ => {
                    // Value-taking flags in the space form skip their value.
                    if inline.is_none()
                        && matches!(name, "masq-chain" | "stderrthreshold" | "v" | "vmodule")
                    {
                        i += 1;
                    }
                }
            }
            i += 1;
        }
        Ok(f)
    }
}

/// `--to-ports`: `A-B` or `N`, comma-separated (§3, §4.3).
pub fn parse_port_ranges(text: &str) -> Result<Vec<RangeInclusive<u16>>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let a: u16 = a.parse().map_err(|_| format!("--to-ports: {part:?}"))?;
            let b: u16 = b.parse().map_err(|_| format!("--to-ports: {part:?}"))?;
            if a > b || a == 0 {
                return Err(format!("--to-ports: {part:?} is not a range"));
            }
            Ok(a..=b)
        })
        .collect()
}
