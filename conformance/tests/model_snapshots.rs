//! Every reviewed outcome table against the model (docs/spec.md, executable:
//! `masq_conformance::model`): each `## outcome after step N` section of
//! `fixtures/snapshots/*.snap` is recomputed from its fixture's steps and must agree cell
//! by cell. Pure: needs neither root nor iptables.
//!
//! One trial per fixture, backend and section. Sections the model does not judge (faults,
//! preloaded rules, established flows, several config files, probes that race a resync)
//! are ignored trials whose names say why, so the skipped ones stay visible.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use masq_conformance::document::store::stored_body;
use masq_conformance::document::Document;
use masq_conformance::fixture::Fixture;
use masq_conformance::model::check::{check_document, SectionCheck};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn trials() -> Vec<Trial> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures/ is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    let mut snapshots = 0;
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let fixture = Fixture::load(&path).unwrap_or_else(|e| panic!("{e}"));
        for backend in ["legacy", "nft"] {
            let snap = fixtures_dir().join(format!("snapshots/{name}@{backend}.snap"));
            let Some(body) = stored_body(&snap) else {
                continue;
            };
            snapshots += 1;
            let case = format!("{name}@{backend}");
            match check_document(&fixture, &Document::parse(&body)) {
                Err(why) => out.push(
                    Trial::test(format!("{case} (not modelled: {why})"), || Ok(()))
                        .with_ignored_flag(true),
                ),
                Ok(sections) => {
                    for s in sections {
                        let label = format!("{case} outcome after step {}", s.step);
                        out.push(match s.check {
                            SectionCheck::Agrees { cells, skipped } if skipped.is_empty() => {
                                Trial::test(format!("{label} ({cells} cells)"), || Ok(()))
                            }
                            SectionCheck::Agrees { cells, skipped } => Trial::test(
                                format!(
                                    "{label} ({cells} cells; not modelled: {})",
                                    skipped.join(", ")
                                ),
                                || Ok(()),
                            ),
                            SectionCheck::NotModelled(why) => Trial::test(
                                format!("{label} (not modelled: {why})"),
                                || Ok(()),
                            )
                            .with_ignored_flag(true),
                            SectionCheck::Disagrees(diffs) => {
                                let msg = format!(
                                    "{case}: the model and the reviewed snapshot disagree on the outcome after step {}:\n  {}",
                                    s.step,
                                    diffs.join("\n  ")
                                );
                                Trial::test(label, move || Err(Failed::from(msg)))
                            }
                        });
                    }
                }
            }
        }
    }
    assert!(snapshots > 0, "no snapshots found under fixtures/snapshots");
    out
}

/// The check is live: one changed cell of a reviewed table is caught and named.
fn a_changed_cell_is_named() -> Result<(), Failed> {
    let fixture = Fixture::load(&fixtures_dir().join("range-edges-10.yaml"))?;
    let body = stored_body(&fixtures_dir().join("snapshots/range-edges-10@legacy.snap"))
        .ok_or("range-edges-10@legacy.snap is missing")?;
    let changed = body.replacen(
        "10.0.0.1             not-masqueraded",
        "10.0.0.1             masqueraded    ",
        1,
    );
    assert_ne!(changed, body, "the row to change is there");
    let sections = check_document(&fixture, &Document::parse(&changed))?;
    match &sections[0].check {
        SectionCheck::Disagrees(d)
            if d == &["first-10 (10.0.0.1)/udp: snapshot masqueraded, model not-masqueraded"] =>
        {
            Ok(())
        }
        other => Err(format!("expected the changed cell to be named, got {other:?}").into()),
    }
}

/// Directions are checked too: an inbound table headed as the pod's is caught.
fn a_table_under_the_wrong_direction_is_named() -> Result<(), Failed> {
    let fixture = Fixture::load(&fixtures_dir().join("directions-pod-range-not-listed.yaml"))?;
    let body =
        stored_body(&fixtures_dir().join("snapshots/directions-pod-range-not-listed@legacy.snap"))
            .ok_or("directions-pod-range-not-listed@legacy.snap is missing")?;
    let changed = body.replacen(
        "## outcome (from world to pod) after step 6",
        "## outcome after step 6",
        1,
    );
    assert_ne!(changed, body, "the heading to change is there");
    let sections = check_document(&fixture, &Document::parse(&changed))?;
    match &sections[1].check {
        SectionCheck::Disagrees(d)
            if d[0].contains("headed as flows from pod, the model's are from world") =>
        {
            Ok(())
        }
        other => Err(format!("expected the direction to be named, got {other:?}").into()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = trials();
    trials.push(Trial::test(
        "self-check: a changed cell is named",
        a_changed_cell_is_named,
    ));
    trials.push(Trial::test(
        "self-check: a table under the wrong direction is named",
        a_table_under_the_wrong_direction_is_named,
    ));
    libtest_mimic::run(&args, trials).exit();
}
