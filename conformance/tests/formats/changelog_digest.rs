//! CHANGELOG.md and the corpus agree: the section of the crate's version states the
//! corpus digest of the tree, unless the corpus has moved on since (a fixture or snapshot
//! change listed under `## Unreleased`). A fixture changed without a changelog entry
//! fails here, and so does a release whose section states another corpus than it ships.

use masq_conformance::changelog;

use super::reports::suite;

/// The lines of the section `## {version}` (up to the next `## `), each with its newline.
fn section(text: &str, version: &str) -> Option<String> {
    let is_heading = |l: &str| {
        l.strip_prefix("## ")
            .is_some_and(|h| h.split_whitespace().next() == Some(version))
    };
    let mut lines = text.lines().skip_while(|l| !is_heading(l));
    let first = lines.next()?;
    let mut out = format!("{first}\n");
    for l in lines.take_while(|l| !l.starts_with("## ")) {
        out.push_str(l);
        out.push('\n');
    }
    Some(out)
}

/// The `sha256:...` digests a section names.
fn digests(section: &str) -> Vec<&str> {
    section
        .split('`')
        .filter(|w| w.starts_with("sha256:") && w.len() == 71)
        .collect()
}

#[test]
fn the_crate_versions_section_states_the_corpus_it_ships_unless_unreleased_changes_are_listed() {
    let version = env!("CARGO_PKG_VERSION");
    let text = changelog::TEXT;
    let released = section(text, version)
        .unwrap_or_else(|| panic!("CHANGELOG.md has no section `## {version}`"));
    let stated = digests(&released);
    assert_eq!(
        stated.len(),
        1,
        "CHANGELOG.md's section {version} must state its corpus digest once (`sha256:...`)"
    );
    let unreleased = changelog::parse(text)
        .into_iter()
        .filter(|c| c.version.eq_ignore_ascii_case("unreleased"))
        .count();
    let tree = suite().digest;
    if unreleased == 0 {
        assert_eq!(
            stated[0], tree,
            "the tree's corpus (fixtures/, snapshots included) is not the one CHANGELOG.md's \
             section {version} states, and `## Unreleased` lists no fixture change: list each \
             change there (- `fixture-name`: what changed, and why), or, when cutting \
             {version}, state this digest in its section (scripts/check-release.sh)"
        );
    }
}

#[test]
fn sections_and_digests_are_found() {
    let text = "# C\n\n## Unreleased\n- `a`: x\n\n## 0.2.0 — d\n\ncorpus `sha256:\
                0000000000000000000000000000000000000000000000000000000000000000`.\n\n## 0.1.0\nold\n";
    let s = section(text, "0.2.0").unwrap();
    assert!(s.starts_with("## 0.2.0") && !s.contains("## 0.1.0"), "{s}");
    assert_eq!(digests(&s).len(), 1);
    assert_eq!(section(text, "0.1.0").unwrap(), "## 0.1.0\nold\n");
    assert!(section(text, "0.3.0").is_none());
}
