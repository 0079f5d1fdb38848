//! The strict forms of what a report names: implementations, cases, versions and digests.
//! Profiles are refused at load and reports at verification when one does not fit, so a
//! name can never be a path (`../../etc/passwd`), Markdown or HTML, and a version never a
//! branch that moves (issue 20, "reports that prove what ran").

/// An implementation's name: 1 to 64 of `[A-Za-z0-9._+-]`, starting with a letter or
/// digit. It names a snapshot directory and a report column, so no `/`, no space, no
/// markup, and not `.`/`..`.
pub fn check_implementation_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not an implementation name (1 to 64 letters, digits, '.', '_', '+', '-', starting with a letter or digit)"
        ))
    }
}

/// A fixture's (a case's) name: 1 to 100 of `[a-z0-9-]`, starting with a letter or digit,
/// as the corpus's file names are.
pub fn check_case_name(name: &str) -> Result<(), String> {
    let ok = (1..=100).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a case name (1 to 100 lowercase letters, digits and '-', starting with a letter or digit)"
        ))
    }
}

/// A dot-separated semver identifier list (pre-release or build): non-empty identifiers of
/// `[0-9A-Za-z-]`; numeric pre-release identifiers without leading zeros.
fn semver_identifiers(s: &str, numeric_no_leading_zero: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !(numeric_no_leading_zero
                && id.len() > 1
                && id.starts_with('0')
                && id.chars().all(|c| c.is_ascii_digit()))
    })
}

/// Whether `v` is a semantic version (semver.org 2.0.0): `MAJOR.MINOR.PATCH`, numbers
/// without leading zeros, optional `-pre.release` and `+build`.
pub fn is_semver(v: &str) -> bool {
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    numbers.len() == 3
        && numbers.iter().all(|n| {
            !n.is_empty()
                && n.len() <= 20
                && n.chars().all(|c| c.is_ascii_digit())
                && !(n.len() > 1 && n.starts_with('0'))
        })
        && pre.is_none_or(|p| semver_identifiers(p, true))
        && build.is_none_or(|b| semver_identifiers(b, false))
}

/// The suite's version in a report: a semantic version (the crate's version today).
pub fn check_suite_version(v: &str) -> Result<(), String> {
    if is_semver(v) {
        Ok(())
    } else {
        Err(format!(
            "{v:?} is not a semantic version (MAJOR.MINOR.PATCH, e.g. 0.1.0)"
        ))
    }
}

/// Whether `v` is a git commit id: 7 to 40 lowercase hex digits (an abbreviation or the
/// whole id).
pub fn is_commit(v: &str) -> bool {
    (7..=40).contains(&v.len()) && v.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

/// An implementation's version: what was tested, pinned: a semantic version, optionally
/// written with a leading `v` (a tag, `v2.12.2`), or a commit id. Never a branch (`main`
/// moves).
pub fn check_implementation_version(v: &str) -> Result<(), String> {
    if is_semver(v.strip_prefix('v').unwrap_or(v)) || is_commit(v) {
        Ok(())
    } else {
        Err(format!(
            "{v:?} is neither a semantic version (1.2.3 or the tag v1.2.3) nor a commit id (7 to 40 lowercase hex digits): a branch or a name moves, a report must pin what it tested"
        ))
    }
}

/// A digest in a report: `sha256:` and 64 lowercase hex digits.
pub fn check_digest(d: &str) -> Result<(), String> {
    let hex = d.strip_prefix("sha256:").unwrap_or("");
    if hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
        Ok(())
    } else {
        Err(format!(
            "{d:?} is not a digest (sha256: and 64 lowercase hex digits)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_be_paths_or_markup_are_refused() {
        for good in ["ip-masq-agent-rs", "masq-wrong-agent", "Agent_2.0+x"] {
            check_implementation_name(good).unwrap();
        }
        for bad in [
            "",
            "..",
            "../../etc/passwd",
            "a b",
            "[x](http://e)",
            "<b>",
            "a|b",
            "-x",
        ] {
            assert!(check_implementation_name(bad).is_err(), "{bad}");
        }
        check_case_name("default-no-config").unwrap();
        for bad in ["../../etc/passwd", "A", "a_b", "", "-a", "a::b"] {
            assert!(check_case_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_are_semver_or_commits_and_digests_exact() {
        for good in ["0.1.0", "1.2.3-rc.1+build.5", "10.20.30"] {
            assert!(is_semver(good), "{good}");
        }
        for bad in ["main", "1.2", "01.2.3", "1.2.3-01", "1.2.3-", "v1.2.3", ""] {
            assert!(!is_semver(bad), "{bad}");
        }
        check_implementation_version("v2.12.2").unwrap();
        check_implementation_version("e300086").unwrap();
        let e = check_implementation_version("main").unwrap_err();
        assert!(e.contains("\"main\""), "{e}");
        check_digest(&format!("sha256:{}", "a".repeat(64))).unwrap();
        for bad in [
            "not-a-digest".to_string(),
            "a".repeat(64),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}", "a".repeat(63)),
        ] {
            assert!(check_digest(&bad).is_err(), "{bad}");
        }
    }
}
