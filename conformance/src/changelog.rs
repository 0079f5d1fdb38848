//! The suite's own history of its corpus (`CHANGELOG.md`, built into the binary): which
//! version changed which fixture or snapshot, and why. A profile names the suite version
//! it was written for (`suite_version`); when a case it lists as a known failure now
//! passes, the runner says which change of the corpus since then explains it, instead of
//! leaving the profile's author to dig (issue 22).
//!
//! The format, per version: a heading `## X.Y.Z` (or `## Unreleased`, newer than any),
//! and below it lines `` - `fixture-name`: what changed `` (several names may share a
//! line: `` - `a`, `b`: ... ``). Other lines are prose.

use std::cmp::Ordering;

/// The changelog this suite was built with.
pub const TEXT: &str = include_str!("../../CHANGELOG.md");

/// One fixture's change in one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `X.Y.Z`, or `Unreleased`.
    pub version: String,
    pub fixture: String,
    pub what: String,
}

/// Every fixture change the text records, newest version first (as written).
pub fn parse(text: &str) -> Vec<Change> {
    let mut version: Option<String> = None;
    let mut changes = Vec::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            version = heading.split_whitespace().next().map(str::to_string);
            continue;
        }
        let (Some(version), Some(item)) = (&version, line.strip_prefix("- `")) else {
            continue;
        };
        let Some((names, what)) = item.split_once(": ") else {
            continue;
        };
        for name in names.split(", ") {
            let name = name.trim_matches('`');
            if !name.is_empty() && !name.contains(' ') {
                changes.push(Change {
                    version: version.clone(),
                    fixture: name.to_string(),
                    what: what.trim().to_string(),
                });
            }
        }
    }
    changes
}

/// Orders two versions of the changelog: `Unreleased` is the newest; otherwise by
/// MAJOR.MINOR.PATCH (pre-release and build parts ignored).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let key = |v: &str| -> (u8, Vec<u64>) {
        if v.eq_ignore_ascii_case("unreleased") {
            return (1, Vec::new());
        }
        let core = v.split(['-', '+']).next().unwrap_or(v);
        (0, core.split('.').map(|n| n.parse().unwrap_or(0)).collect())
    };
    key(a).cmp(&key(b))
}

/// The changes to `fixture` after version `since` (what a profile written for `since`
/// has not seen).
pub fn changes_since<'a>(changes: &'a [Change], fixture: &str, since: &str) -> Vec<&'a Change> {
    changes
        .iter()
        .filter(|c| {
            c.fixture == fixture && compare_versions(&c.version, since) == Ordering::Greater
        })
        .collect()
}

/// One line naming the changes that explain why `fixture` behaves differently from what
/// a profile written for suite version `since` expected; `None` when there are none.
pub fn explain(fixture: &str, since: &str) -> Option<String> {
    let changes = parse(TEXT);
    let found = changes_since(&changes, fixture, since);
    if found.is_empty() {
        return None;
    }
    let list: Vec<String> = found
        .iter()
        .map(|c| format!("{}: {}", c.version, c.what))
        .collect();
    Some(format!(
        "the corpus changed since suite {since}, which the profile was written for (CHANGELOG.md): {}",
        list.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Changelog\n\nProse.\n\n## Unreleased\n### Fixtures and snapshots\n- `b`: now sets its CIDRs explicitly\n\n## 0.2.0 — 2027-01-01\n- `a`, `b`: the snapshot counts 9 packets\n- prose without a fixture\n\n## 0.1.0\n- `a`: added\n";

    #[test]
    fn changes_are_read_per_version_and_fixture() {
        let changes = parse(SAMPLE);
        assert_eq!(changes.len(), 4);
        assert_eq!(
            changes[1],
            Change {
                version: "0.2.0".into(),
                fixture: "a".into(),
                what: "the snapshot counts 9 packets".into()
            }
        );
    }

    #[test]
    fn only_changes_after_the_profiles_version_explain() {
        let changes = parse(SAMPLE);
        let b: Vec<&str> = changes_since(&changes, "b", "0.1.0")
            .iter()
            .map(|c| c.version.as_str())
            .collect();
        assert_eq!(b, ["Unreleased", "0.2.0"]);
        assert!(changes_since(&changes, "a", "0.2.0").is_empty());
        assert_eq!(changes_since(&changes, "a", "0.1.0").len(), 1);
        assert_eq!(compare_versions("0.10.0", "0.9.1"), Ordering::Greater);
        assert_eq!(compare_versions("1.0.0-rc.1", "1.0.0"), Ordering::Equal);
    }

    #[test]
    fn the_built_in_changelog_names_only_fixtures_of_the_corpus() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let changes = parse(TEXT);
        assert!(!changes.is_empty());
        for c in &changes {
            assert!(
                fixtures.join(format!("{}.yaml", c.fixture)).exists(),
                "CHANGELOG.md names {:?} ({}), which is not a fixture",
                c.fixture,
                c.version
            );
        }
        assert!(
            TEXT.contains(&format!("## {}", env!("CARGO_PKG_VERSION"))),
            "CHANGELOG.md has no section for the crate's version"
        );
    }
}
