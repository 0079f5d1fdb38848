//! A profile written for the suite's own corpus runs against another `--fixtures DIR`
//! (docs/validating-an-implementation.md, section 11): its `expected_failures` for cases
//! DIR does not hold are reported, not fatal; a name that matches no case of the suite's
//! own corpus either still is. `--list` builds no sandbox: nothing here needs root.

use std::path::Path;
use std::process::Command;

fn list(profile: &Path, fixtures: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .arg("--implementation")
        .arg(profile)
        .arg("--fixtures")
        .arg(fixtures)
        .arg("--list")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A directory holding one fixture of the suite's own corpus.
fn one_fixture_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    std::fs::copy(
        own.join("default-no-config.yaml"),
        dir.path().join("default-no-config.yaml"),
    )
    .unwrap();
    dir
}

fn profile(dir: &Path, entries: &str) -> std::path::PathBuf {
    let path = dir.join("profile.yaml");
    std::fs::write(
        &path,
        format!("name: other-corpus\ncommand: [/bin/true]\nexpected_failures:\n{entries}"),
    )
    .unwrap();
    path
}

#[test]
fn entries_for_cases_absent_from_another_corpus_are_reported_not_fatal() {
    let fixtures = one_fixture_dir();
    let scratch = tempfile::tempdir().unwrap();
    let profile = profile(
        scratch.path(),
        "  - {case: overlapping-cidrs, reason: listed for the suite's own corpus}\n  - {case: duplicated-cidrs::nft, reason: likewise}\n",
    );
    let (ok, err) = list(&profile, fixtures.path());
    assert!(ok, "{err}");
    assert!(
        err.contains("does not hold (not run here)")
            && err.contains("overlapping-cidrs")
            && err.contains("duplicated-cidrs::nft"),
        "{err}"
    );
}

#[test]
fn an_entry_naming_no_case_of_the_suite_is_still_an_error() {
    let fixtures = one_fixture_dir();
    let scratch = tempfile::tempdir().unwrap();
    let profile = profile(
        scratch.path(),
        "  - {case: no-such-fixture, reason: a typo}\n  - {case: overlapping-cidrs, reason: fine}\n",
    );
    let (ok, err) = list(&profile, fixtures.path());
    assert!(!ok, "{err}");
    assert!(
        err.contains("names no case of")
            && err.contains("no-such-fixture")
            && !err.contains("\"overlapping-cidrs\""),
        "{err}"
    );
}
