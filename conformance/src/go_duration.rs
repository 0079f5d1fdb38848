//! Go's duration syntax (`300ms`, `1.5s`, `1m30s`), parsed exactly as Go's
//! `time.ParseDuration` does, overflow included: the reference reads `resyncInterval`
//! that way, and fixtures and profiles use the same syntax. One type, used everywhere.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A non-negative duration written in Go syntax; keeps its text for messages and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoDuration {
    text: String,
    value: Duration,
}

/// Why a text is not a Go duration (the wording follows Go's errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoDurationError {
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    #[error("time: unknown unit {unit:?} in duration {text:?}")]
    UnknownUnit { unit: String, text: String },
    #[error("{0:?} is negative; a wait or an interval cannot be")]
    Negative(String),
}

const OVERFLOW: u64 = 1 << 63;

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub fn parse_nanos(text: &str) -> Result<i64, GoDurationError> {
    let invalid = || GoDurationError::Invalid(text.to_string());
    let mut s = text.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = &s[1..];
        }
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // The integer part; overflow is an error, as in Go's leadingInt.
        let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &s[..digits] {
            if v > OVERFLOW / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > OVERFLOW {
                return Err(invalid());
            }
        }
        let pre = digits > 0;
        s = &s[digits..];
        // The fraction; digits past what fits are dropped, as in Go's leadingFraction.
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let frac = s.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflowed = false;
            for &c in &s[..frac] {
                if overflowed {
                    continue;
                }
                if f > (OVERFLOW - 1) / 10 {
                    overflowed = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > OVERFLOW {
                    overflowed = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = frac > 0;
            s = &s[frac..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = s
            .iter()
            .take_while(|&&c| c != b'.' && !c.is_ascii_digit())
            .count();
        if unit_len == 0 {
            return Err(GoDurationError::MissingUnit(text.to_string()));
        }
        let unit_text = String::from_utf8_lossy(&s[..unit_len]).into_owned();
        s = &s[unit_len..];
        let unit = unit_nanos(&unit_text).ok_or_else(|| GoDurationError::UnknownUnit {
            unit: unit_text,
            text: text.to_string(),
        })?;
        if v > OVERFLOW / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > OVERFLOW {
                return Err(invalid());
            }
        }
        total += v;
        if total > OVERFLOW {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((total as i128).wrapping_neg() as i64);
    }
    if total > OVERFLOW - 1 {
        return Err(invalid());
    }
    Ok(total as i64)
}

impl GoDuration {
    /// Parses a non-negative Go duration.
    pub fn parse(text: &str) -> Result<Self, GoDurationError> {
        let nanos = parse_nanos(text)?;
        if nanos < 0 {
            return Err(GoDurationError::Negative(text.to_string()));
        }
        Ok(Self {
            text: text.to_string(),
            value: Duration::from_nanos(nanos as u64),
        })
    }

    pub fn get(&self) -> Duration {
        self.value
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        GoDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for GoDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "GoDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A Go duration: a sequence of decimal numbers with units ns, us, ms, s, m, h (e.g. `300ms`, `1m30s`).",
            "pattern": "^([0-9]*(\\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+$|^0$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> Result<i64, GoDurationError> {
        parse_nanos(s)
    }

    #[test]
    fn matches_go_on_valid_input() {
        // Expected values are Go's (time.ParseDuration).
        assert_eq!(ns("0"), Ok(0));
        assert_eq!(ns("+0"), Ok(0));
        assert_eq!(ns("300ms"), Ok(300_000_000));
        assert_eq!(ns("1.5s"), Ok(1_500_000_000));
        assert_eq!(ns("1m30s"), Ok(90_000_000_000));
        assert_eq!(ns(".5s"), Ok(500_000_000));
        assert_eq!(ns("5.s"), Ok(5_000_000_000));
        assert_eq!(ns("1h1m1s1ms1us1ns"), Ok(3_661_001_001_001));
        assert_eq!(ns("2\u{b5}s"), Ok(2_000));
        assert_eq!(ns("2\u{3bc}s"), Ok(2_000));
        assert_eq!(ns("-1.5h"), Ok(-5_400_000_000_000));
        assert_eq!(ns("9223372036854775807ns"), Ok(i64::MAX));
        assert_eq!(ns("-9223372036854775808ns"), Ok(i64::MIN));
    }

    #[test]
    fn matches_go_on_invalid_input() {
        for bad in [
            "", "-", "s", ".", ".s", "1.2.3s", "3", "30", "1h30", " 1s", "1s ", "1 s",
        ] {
            assert!(ns(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(ns("30"), Err(GoDurationError::MissingUnit(_))));
        assert!(matches!(ns("1d"), Err(GoDurationError::UnknownUnit { .. })));
        // Overflow is an error, never a panic or a wrap.
        for big in [
            "9223372036854775808ns",
            "99999999999999999999h",
            "2562048h",
            "9223372036854775807ns1ns",
        ] {
            assert_eq!(ns(big), Err(GoDurationError::Invalid(big.into())), "{big}");
        }
    }

    #[test]
    fn a_go_duration_is_not_negative_and_keeps_its_text() {
        let d = GoDuration::parse("1m30s").unwrap();
        assert_eq!(d.get(), Duration::from_secs(90));
        assert_eq!(d.to_string(), "1m30s");
        assert!(matches!(
            GoDuration::parse("-1s"),
            Err(GoDurationError::Negative(_))
        ));
    }
}
