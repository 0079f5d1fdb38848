//! YAML 1.1 scalar resolution as go-yaml v2 (2.4) does it, and what the reference's
//! YAML-to-JSON step (sigs.k8s.io/yaml, formerly ghodss/yaml) then makes of each value.
//!
//! Settled against the differential oracle (tools/reference-parse). The points that
//! change a verdict: integers in every `strconv.ParseInt` base-0 form (`0x`, `0o`, `0b`,
//! leading `0`, any case, `_` removed first); floats that are whole numbers reach the JSON
//! decoder as integers; `.inf`/`.nan` cannot be written as JSON (the whole config fails);
//! a null or a number beyond int64 is not a usable map key (a timestamp key is its text); explicit tags
//! (`!!int '5'`) resolve the text whatever its quoting, and a tag that does not match the
//! text is an error; a tag go-yaml does not resolve (`!x`, `!`) leaves the text a string;
//! an unquoted `<<` key merges a mapping.

/// What a scalar resolves to.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX` that fits `u64` (a JSON number no Go `int` takes).
    BigUint(String),
    /// A finite float, with its text.
    Float(f64, String),
    /// `.inf`, `-.inf`, `.nan`: what `strconv.FormatFloat` prints for it.
    NonFinite(&'static str),
    /// A YAML timestamp (reaches JSON as a string; not usable as a map key).
    Timestamp(String),
    Str(String),
    /// An unquoted `<<` (or `!!merge <<`): a merge key.
    Merge,
}

/// A scalar's tag, as far as go-yaml cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag<'a> {
    /// `tag:yaml.org,2002:NAME` (written `!!NAME`).
    Core(&'a str),
    /// Any other tag (`!x`, `!`, a URI): go-yaml keeps the text as a string.
    Other,
}

/// Resolves one scalar. `plain` is false for quoted and block scalars. Err: go-yaml's
/// "cannot decode" (a tag that does not fit the text) or bad `!!binary` data.
pub fn resolve(value: &str, plain: bool, tag: Option<Tag>) -> Result<Scalar, String> {
    let name = match tag {
        None if !plain => return Ok(Scalar::Str(value.to_string())),
        None => return Ok(implicit(value, true)),
        Some(Tag::Other) => return Ok(Scalar::Str(value.to_string())),
        Some(Tag::Core(name)) => name,
    };
    match name {
        "str" => Ok(Scalar::Str(value.to_string())),
        "binary" => base64(value).map(Scalar::Str),
        "merge" if value == "<<" => Ok(Scalar::Merge),
        "bool" | "int" | "float" | "null" | "timestamp" => {
            let r = implicit(value, name == "timestamp");
            let found = kind(&r);
            match (name, r) {
                (n, r) if n == found => Ok(r),
                ("float", Scalar::Int(i)) => Ok(Scalar::Float(i as f64, value.to_string())),
                _ => Err(format!("cannot decode !!{found} `{value}` as a !!{name}")),
            }
        }
        // !!map, !!seq, !!merge on another text, ...: not resolvable, the text stays.
        _ => Ok(Scalar::Str(value.to_string())),
    }
}

fn kind(s: &Scalar) -> &'static str {
    match s {
        Scalar::Null => "null",
        Scalar::Bool(_) => "bool",
        Scalar::Int(_) | Scalar::BigUint(_) => "int",
        Scalar::Float(..) | Scalar::NonFinite(_) => "float",
        Scalar::Timestamp(_) => "timestamp",
        Scalar::Str(_) => "str",
        Scalar::Merge => "merge",
    }
}

/// Resolution of an untagged plain scalar (`try_timestamp`: go-yaml tries timestamps only
/// for untagged or `!!timestamp` scalars).
fn implicit(value: &str, try_timestamp: bool) -> Scalar {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Scalar::NonFinite(".inf"),
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::NonFinite("-.inf"),
        ".nan" | ".NaN" | ".NAN" => return Scalar::NonFinite(".nan"),
        "<<" => return Scalar::Merge,
        _ => {}
    }
    let s = |v: &str| Scalar::Str(v.to_string());
    match value.as_bytes()[0] {
        b'.' => match go_float(value) {
            Some(f) => Scalar::Float(f, value.to_string()),
            None => s(value),
        },
        b'0'..=b'9' | b'+' | b'-' => {
            if try_timestamp && is_timestamp(value) {
                return Scalar::Timestamp(value.to_string());
            }
            let plain: String = value.chars().filter(|c| *c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                return match i64::try_from(i) {
                    Ok(i) => Scalar::Int(i),
                    Err(_) if !plain.starts_with(['+', '-']) && u64::try_from(i).is_ok() => {
                        Scalar::BigUint(plain)
                    }
                    Err(_) => s(value),
                };
            }
            if is_yaml_style_float(&plain) {
                if let Some(f) = go_float(&plain) {
                    return Scalar::Float(f, value.to_string());
                }
            }
            s(value)
        }
        _ => s(value),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` widened: one sign, then `0x`/`0o`/`0b` (any case),
/// a leading `0` (octal) or decimal. The caller checks the range.
fn go_parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) || digits.len() > 40 {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    if v > u64::MAX as i128 {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(v: &str) -> bool {
    let v = v.strip_prefix(['-', '+']).unwrap_or(v);
    let (mantissa, exp) = match v.find(['e', 'E']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && frac.bytes().all(|b| b.is_ascii_digit()),
        None => digits(mantissa),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exp_ok
}

/// Go's `strconv.ParseFloat` for the decimal forms that reach it here (finite results).
fn go_float(v: &str) -> Option<f64> {
    if !v
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    v.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// go-yaml's timestamp forms: `YYYY-M-D`, optionally with a time (`T`, `t` or a space,
/// then `H:M:S`, an optional fraction, and a zone unless space-separated).
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let num = |t: &str, max: u32| -> bool {
        (1..=2).contains(&t.len())
            && t.bytes().all(|c| c.is_ascii_digit())
            && t.parse::<u32>().is_ok_and(|n| n <= max)
    };
    let rest = &s[5..];
    let (date, time) = match rest.find(['T', 't', ' ']) {
        Some(i) => (&rest[..i], Some((&rest[i..i + 1], &rest[i + 1..]))),
        None => (rest, None),
    };
    let Some((m, d)) = date.split_once('-') else {
        return false;
    };
    let year: u32 = s[..4].parse().unwrap_or(0);
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match m.parse::<u32>().unwrap_or(0) {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(num(m, 12) && m != "0" && m != "00" && num(d, days) && d.parse::<u32>() != Ok(0)) {
        return false;
    }
    let Some((sep, time)) = time else {
        return true;
    };
    let (clock, zone) = if sep == " " {
        (time, "")
    } else {
        match time.find(['Z', '+', '-']) {
            Some(i) => (&time[..i], &time[i..]),
            None => return false,
        }
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((h, f)) => (h, Some(f)),
        None => (clock, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let clock_ok = parts.len() == 3 && num(parts[0], 23) && num(parts[1], 59) && num(parts[2], 59);
    let frac_ok =
        frac.is_none_or(|f| (1..=9).contains(&f.len()) && f.bytes().all(|c| c.is_ascii_digit()));
    let zone_ok = match zone {
        "" => sep == " ",
        "Z" => true,
        z => {
            let z = &z[1..];
            z.len() == 5 && z.as_bytes()[2] == b':' && num(&z[..2], 23) && num(&z[3..], 59)
        }
    };
    clock_ok && frac_ok && zone_ok
}

/// `encoding/base64.StdEncoding` (padding required).
fn base64(text: &str) -> Result<String, String> {
    const BAD: &str = "!!binary value contains invalid base64 data";
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    // go-yaml passes the scalar as read; Go's decoder skips \r and \n.
    let clean: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    if !clean.len().is_multiple_of(4) {
        return Err(BAD.into());
    }
    let mut out = Vec::new();
    for (n, chunk) in clean.chunks(4).enumerate() {
        let last = n + 1 == clean.len() / 4;
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return Err(BAD.into());
        }
        let mut acc = 0u32;
        for &c in &chunk[..4 - pad] {
            acc = (acc << 6) | val(c).ok_or(BAD)?;
        }
        acc <<= 6 * pad as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_in_every_base0_form() {
        for (text, n) in [
            ("0x1F", 31),
            ("0X1F", 31),
            ("0o17", 15),
            ("0O17", 15),
            ("017", 15),
            ("0b11", 3),
            ("0B11", 3),
            ("-0b11", -3),
            ("+5", 5),
            ("1_000", 1000),
        ] {
            assert_eq!(resolve(text, true, None), Ok(Scalar::Int(n)), "{text}");
        }
        assert!(matches!(resolve("09", true, None), Ok(Scalar::Float(f, _)) if f == 9.0));
        assert!(matches!(
            resolve("18446744073709551615", true, None),
            Ok(Scalar::BigUint(_))
        ));
        assert_eq!(resolve("0x", true, None), Ok(Scalar::Str("0x".into())));
    }

    #[test]
    fn tags() {
        let core = |n| Some(Tag::Core(n));
        assert_eq!(resolve("5", false, core("int")), Ok(Scalar::Int(5)));
        assert!(matches!(resolve("5", true, core("float")), Ok(Scalar::Float(f, _)) if f == 5.0));
        assert_eq!(resolve("5", true, core("str")), Ok(Scalar::Str("5".into())));
        assert!(resolve("x", true, core("int")).is_err());
        assert!(resolve("x", true, core("null")).is_err());
        assert_eq!(resolve("", true, core("null")), Ok(Scalar::Null));
        assert_eq!(
            resolve("1", true, Some(Tag::Other)),
            Ok(Scalar::Str("1".into()))
        );
        assert_eq!(
            resolve("aGk=", true, core("binary")),
            Ok(Scalar::Str("hi".into()))
        );
        assert!(resolve("a", true, core("binary")).is_err());
    }

    #[test]
    fn specials() {
        assert_eq!(resolve(".inf", true, None), Ok(Scalar::NonFinite(".inf")));
        assert_eq!(resolve("<<", true, None), Ok(Scalar::Merge));
        assert_eq!(resolve("<<", false, None), Ok(Scalar::Str("<<".into())));
        assert!(matches!(
            resolve("2001-12-14", true, None),
            Ok(Scalar::Timestamp(_))
        ));
        assert!(matches!(
            resolve("2001-12-14T21:59:43.10-05:00", true, None),
            Ok(Scalar::Timestamp(_))
        ));
        assert!(matches!(
            resolve("2001-02-30", true, None),
            Ok(Scalar::Str(_))
        ));
        assert!(matches!(resolve("1e3", true, None), Ok(Scalar::Float(f, _)) if f == 1000.0));
        assert!(matches!(resolve(".5", true, None), Ok(Scalar::Float(f, _)) if f == 0.5));
    }
}
