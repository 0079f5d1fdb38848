//! Behaviours of Go's standard library that the reference inherits and a drop-in
//! replacement must reproduce: `net.ParseCIDR`, `time.ParseDuration` and
//! `Duration.String`, `encoding/json`'s reading of lone surrogates, and the JSON sniffing
//! of `k8s.io/apimachinery`'s `yaml.ToJSON`. Pure functions, no I/O.

use ipnet::IpNet;

/// Go's decoder reads a `\uXXXX` escape of a lone UTF-16 surrogate as U+FFFD; serde_json
/// refuses it. Rewrites such escapes (inside strings) to `\ufffd` before parsing.
pub fn lone_surrogates_replaced(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("\\u") {
        return text.into();
    }
    let b = text.as_bytes();
    let hex = |i: usize| -> Option<u32> {
        let h = text.get(i..i + 4)?;
        if h.bytes().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(h, 16).ok()
        } else {
            None
        }
    };
    let escape_at = |i: usize| -> Option<u32> {
        (b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'u'))
            .then(|| hex(i + 2))
            .flatten()
    };
    let mut out = String::with_capacity(text.len());
    let (mut i, mut last, mut in_string) = (0, 0, false);
    while i < b.len() {
        match b[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                if let Some(u) = escape_at(i) {
                    let paired = match u {
                        0xD800..=0xDBFF => {
                            matches!(escape_at(i + 6), Some(0xDC00..=0xDFFF))
                        }
                        0xDC00..=0xDFFF => false,
                        _ => true,
                    };
                    if paired && (0xD800..=0xDBFF).contains(&u) {
                        i += 12;
                        continue;
                    }
                    if !paired {
                        out.push_str(&text[last..i]);
                        out.push_str("\\ufffd");
                        last = i + 6;
                    }
                    i += 6;
                    continue;
                }
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&text[last..]);
    out.into()
}

/// The reference's `hasJSONPrefix`: after leading white space as Go's `unicode.IsSpace`
/// sees it (decoding UTF-8, so a no-break space counts and an invalid byte stops the
/// scan; Rust's `char::is_whitespace` is the same Unicode property), a `{`.
pub fn looks_like_json(bytes: &[u8]) -> bool {
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    };
    text.trim_start().starts_with('{')
}

/// Go's `net.ParseCIDR` (Go 1.17 and later), the reference's parser: the address as
/// `netip` reads it (no leading zeros in IPv4 octets, no zone), then a prefix of ASCII
/// digits (leading zeros allowed, no sign) no larger than the address's bit length.
/// An IPv4-mapped IPv6 address (`::ffff:10.0.0.0/104`) is IPv4 for the reference (its
/// family test is `To4() != nil`), so it comes back as the IPv4 network it denotes.
/// Returns the address as written and the network.
pub fn parse_go_cidr(text: &str) -> Result<(std::net::IpAddr, IpNet), String> {
    use ipnet::{Ipv4Net, Ipv6Net};
    let (addr, prefix) = text
        .split_once('/')
        .ok_or_else(|| "missing /prefix-length".to_string())?;
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("{:?} is not an IP address", clip(addr)))?;
    let bits: u32 = if ip.is_ipv4() { 32 } else { 128 };
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("prefix length {:?} is not a number", clip(prefix)));
    }
    let digits = prefix.trim_start_matches('0');
    let len = if digits.len() > 3 {
        u32::MAX
    } else {
        digits.parse::<u32>().unwrap_or(0)
    };
    if len > bits {
        return Err(format!(
            "prefix length {} is larger than {bits}",
            clip(prefix)
        ));
    }
    let net = match ip {
        std::net::IpAddr::V4(a) => {
            IpNet::V4(Ipv4Net::new(a, len as u8).map_err(|e| e.to_string())?)
        }
        std::net::IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) if len >= 96 => {
                IpNet::V4(Ipv4Net::new(v4, (len - 96) as u8).map_err(|e| e.to_string())?)
            }
            _ => IpNet::V6(Ipv6Net::new(a, len as u8).map_err(|e| e.to_string())?),
        },
    };
    Ok((ip, net))
}

/// The longest value an error message echoes; longer ones are cut (a 1 MB bad value once
/// made a 48 MB log in five seconds).
pub const MAX_ECHO_CHARS: usize = 80;

/// `s` cut to [`MAX_ECHO_CHARS`] characters, marked when cut.
pub fn clip(s: &str) -> String {
    if s.chars().count() > MAX_ECHO_CHARS {
        let cut: String = s.chars().take(MAX_ECHO_CHARS - 3).collect();
        format!("{cut}...")
    } else {
        s.to_string()
    }
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, units ns us µs μs ms s m h,
/// bare `0` allowed. Returns nanoseconds.
pub fn parse_go_duration(orig: &str) -> Result<i64, String> {
    const OVERFLOW: &str = "out of range";
    let mut s = orig;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err("empty".into());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes()[0];
        if !(b == b'.' || b.is_ascii_digit()) {
            return Err(format!("expected a number at {:?}", clip(s)));
        }
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let mut v: u64 = 0;
        for d in s[..int_len].bytes() {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .filter(|v| *v <= 1 << 63)
                .ok_or(OVERFLOW)?;
        }
        s = &s[int_len..];
        let pre = int_len > 0;
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if let Some(rest) = s.strip_prefix('.') {
            s = rest;
            let n = s.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for d in s[..n].bytes() {
                if overflow {
                    continue;
                }
                match frac
                    .checked_mul(10)
                    .and_then(|f| f.checked_add(u64::from(d - b'0')))
                {
                    Some(f) if f <= 1 << 63 => {
                        frac = f;
                        scale *= 10.0;
                    }
                    _ => overflow = true,
                }
            }
            post = n > 0;
            s = &s[n..];
        }
        if !pre && !post {
            return Err(format!("expected digits in {:?}", clip(orig)));
        }
        let unit_len = s
            .bytes()
            .take_while(|b| *b != b'.' && !b.is_ascii_digit())
            .count();
        if unit_len == 0 {
            return Err("missing unit (ns, us, ms, s, m, h)".into());
        }
        let unit_text = &s[..unit_len];
        s = &s[unit_len..];
        let unit: u64 = match unit_text {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => {
                return Err(format!(
                    "unknown unit {:?} (use ns, us, ms, s, m, h)",
                    clip(other)
                ))
            }
        };
        if v > (1u64 << 63) / unit {
            return Err(OVERFLOW.into());
        }
        v *= unit;
        if frac > 0 {
            v += (frac as f64 * (unit as f64 / scale)) as u64;
            if v > 1 << 63 {
                return Err(OVERFLOW.into());
            }
        }
        total = total
            .checked_add(v)
            .filter(|t| *t <= 1 << 63)
            .ok_or(OVERFLOW)?;
    }
    if neg {
        return Ok((total as i128).wrapping_neg() as i64);
    }
    i64::try_from(total).map_err(|_| OVERFLOW.into())
}

/// Formats nanoseconds the way Go's `Duration.String` does (`1m30s`, `500ms`), for logs.
pub fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let body = if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        format!("{}{unit}", fmt_frac(u, div))
    } else {
        let h = u / 3_600_000_000_000;
        let m = (u / 60_000_000_000) % 60;
        let s = u % 60_000_000_000;
        let sec = format!("{}s", fmt_frac(s, 1_000_000_000));
        if h > 0 {
            format!("{h}h{m}m{sec}")
        } else if m > 0 {
            format!("{m}m{sec}")
        } else {
            sec
        }
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

fn fmt_frac(v: u64, div: u64) -> String {
    let int = v / div;
    let frac = v % div;
    if frac == 0 {
        return int.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{int}.{}", f.trim_end_matches('0'))
}
