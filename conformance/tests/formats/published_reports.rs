//! The published reports (`conformance/reports/`, written by scripts/publish-reports.sh):
//! each verifies against the tree's suite (its corpus digest recomputed) and was made
//! with the tree's profile, and the committed page and Markdown are what `compare` builds
//! from them. A fixture or profile changed without re-publishing fails here, saying how
//! to re-publish, instead of leaving a page that no longer describes the suite.

use std::path::{Path, PathBuf};

use masq_conformance::document::corpus::sha256;
use masq_conformance::verdict::suite_cases::SuiteCases;
use masq_conformance::verdict::{comparison, verify::verify, Report};

use super::reports::{fixtures_dir, root, suite};

const REPUBLISH: &str = "run scripts/publish-reports.sh (as root; IP_MASQ_AGENT_GO and \
AZURE_IP_MASQ_AGENT_V2 naming the outside implementations built at their profiles' \
version) and commit conformance/reports/";

fn reports_dir() -> PathBuf {
    root().join("conformance/reports")
}

/// The committed reports, in the order the script hands them to `compare` (by name).
fn published() -> Vec<(PathBuf, String)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(reports_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// Why each published report is stale against `suite` and the tree's profiles.
fn stale(suite: &SuiteCases) -> (Vec<Report>, Vec<String>) {
    let mut reports = Vec::new();
    let mut problems = Vec::new();
    for (path, text) in published() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        match verify(&text, suite) {
            Ok(r) => {
                let profile = root().join(&r.profile.path);
                match std::fs::read(&profile) {
                    Ok(bytes) if sha256(&bytes) == r.profile.digest => {}
                    Ok(_) => problems.push(format!(
                        "{name}: made with another {} than the tree's (profile digest {})",
                        r.profile.path, r.profile.digest
                    )),
                    Err(e) => problems.push(format!("{name}: its profile {}: {e}", r.profile.path)),
                }
                reports.push(r);
            }
            Err(p) => problems.push(format!(
                "{name}: does not verify against the suite at {}: {}",
                suite.dir.display(),
                p.join("; ")
            )),
        }
    }
    (reports, problems)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}; {REPUBLISH}", path.display()))
}

#[test]
fn published_reports_verify_against_the_trees_suite() {
    // The in-tree agent's reports are always published: an empty directory is no pass.
    for always in ["ip-masq-agent-rs.json", "ip-masq-agent-rs-nftables.json"] {
        assert!(
            reports_dir().join(always).is_file(),
            "conformance/reports/{always} is missing; {REPUBLISH}"
        );
    }
    let (reports, problems) = stale(&suite());
    assert!(
        problems.is_empty(),
        "the published reports no longer describe the tree's suite:\n  {}\n{REPUBLISH}",
        problems.join("\n  ")
    );
    assert!(reports.len() >= 2);
}

#[test]
fn published_page_is_what_compare_builds_from_the_reports() {
    let (reports, _) = stale(&suite());
    let html = read(&reports_dir().join("index.html"));
    assert!(
        html == comparison::html(&reports),
        "conformance/reports/index.html is not what `masq-conformance compare --html` builds \
         from the committed reports; {REPUBLISH}"
    );
    let markdown = read(&reports_dir().join("comparison.md"));
    assert!(
        markdown == comparison::markdown(&reports),
        "conformance/reports/comparison.md is not what `masq-conformance compare` prints for \
         the committed reports; {REPUBLISH}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The check above can fail: one fixture changed (a comment added) and every published
/// report is stale, the message saying how to re-publish.
#[test]
fn a_fixture_changed_without_republishing_makes_every_report_stale() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixtures_dir(), dir.path());
    let fixture = dir.path().join("default-no-config.yaml");
    let mut text = std::fs::read_to_string(&fixture).unwrap();
    text.push_str("# changed without re-publishing\n");
    std::fs::write(&fixture, text).unwrap();
    let (reports, problems) = stale(&SuiteCases::read(dir.path()).unwrap());
    assert!(
        reports.is_empty(),
        "a report verified against a changed corpus"
    );
    assert_eq!(problems.len(), published().len());
    assert!(
        problems.iter().all(|p| p.contains("digest")),
        "{problems:#?}"
    );
}
