//! Read once, judged once (issue 20, item 4): a snapshot rewritten on disk after the plan
//! changes neither what a trial is judged against nor the report's digest. Drives the plan
//! and the judging directly, so it needs neither root nor an implementation.

use std::path::Path;

use libtest_mimic::Arguments;

use super::{plan, SuiteOptions};
use crate::document::corpus::Corpus;
use crate::document::judge::Judge;
use crate::document::store::SnapshotMode;
use crate::document::Document;

const CASE: &str = "default-no-config";

/// A fixtures directory holding one in-tree fixture and its snapshots.
fn one_fixture_corpus(dir: &Path) {
    let own = super::in_tree("fixtures");
    std::fs::create_dir_all(dir.join("snapshots")).unwrap();
    std::fs::copy(
        own.join(format!("{CASE}.yaml")),
        dir.join(format!("{CASE}.yaml")),
    )
    .unwrap();
    for b in ["legacy", "nft"] {
        let snap = format!("snapshots/{CASE}@{b}.snap");
        std::fs::copy(own.join(&snap), dir.join(&snap)).unwrap();
    }
}

#[test]
fn a_snapshot_rewritten_after_the_plan_changes_neither_the_judging_nor_the_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = tmp.path().join("fixtures");
    one_fixture_corpus(&fixtures);
    let profile = tmp.path().join("p.yaml");
    std::fs::write(&profile, "name: p\ncommand: [\"true\"]\n").unwrap();
    let mut opts = SuiteOptions::new(vec!["masq-conformance".into()]);
    opts.fixtures_dir = fixtures.clone();
    opts.profile_path = profile.clone();
    let mut args = Arguments::from_iter(["masq-conformance", "--list"]);
    let Ok(plan) = plan::plan(&opts, &mut args) else {
        panic!("the plan failed")
    };
    let digest = plan.corpus.digest().to_string();
    let profile_digest = plan.profile_digest.clone();
    let name = format!("{CASE}@nft");
    let snap = fixtures.join(format!("snapshots/{name}.snap"));
    let original = std::fs::read_to_string(&snap).unwrap();
    let original_doc = Document::parse(&crate::document::corpus::body_of(&original).unwrap());

    // What a hostile implementation does: rewrite a later trial's snapshot (here to what
    // it would produce), and its own profile.
    let forged = format!("{original}\n## forged after step 1\nanything\n");
    std::fs::write(&snap, &forged).unwrap();
    std::fs::write(&profile, "name: p\ncommand: [\"false\"]\n").unwrap();
    let forged_doc = Document::parse(&crate::document::corpus::body_of(&forged).unwrap());
    assert_ne!(forged_doc, original_doc);

    let judge = Judge {
        corpus: &plan.corpus,
        snapshot_dir: &fixtures.join("snapshots"),
        snapshot_name: &name,
        description: "d",
        implementation: &plan.profile.name,
        waived: &[],
        own_listings: false,
        iptables_listings_bind: true,
        mode: &SnapshotMode::ReadOnly { artifacts: None },
        skipped_steps: &[],
    };
    // Judged against the copy read at plan time: the forged document fails, the
    // original passes.
    assert_eq!(judge.expected(), Some(original_doc.clone()));
    assert!(judge.judge(judge.expected(), &forged_doc).is_err());
    assert!(judge.judge(judge.expected(), &original_doc).is_ok());
    // The digests are of what was judged, not of the files as they are now.
    assert_eq!(plan.corpus.digest(), digest);
    assert_eq!(plan.profile_digest, profile_digest);
    assert_ne!(Corpus::read(&fixtures).unwrap().digest(), digest);
    assert_eq!(
        crate::verdict::build::build(&crate::verdict::build::RunFacts {
            profile: &plan.profile,
            profile_path: &profile,
            profile_digest: &plan.profile_digest,
            commit: None,
            fixtures_digest: plan.corpus.digest(),
            coverage: &plan.coverage,
            planned: &plan.planned,
            records: &[],
            backends: &opts.backends,
            argv: &opts.argv,
            blocker: None,
            environment: crate::verdict::environment::Environment {
                kernel: "k".into(),
                distribution: "d".into(),
                architecture: "a".into(),
                iptables: Default::default(),
            },
        })
        .suite
        .fixtures_digest,
        digest
    );
    // (A one-fixture corpus is not the suite's: the run is partial.)
    assert!(!plan.coverage.is_full(), "{:?}", plan.coverage);
    // The file on disk was not touched by judging.
    assert_eq!(std::fs::read_to_string(&snap).unwrap(), forged);
}

#[test]
fn bless_writes_the_new_text_but_judges_against_the_plan_time_copy() {
    let tmp = tempfile::tempdir().unwrap();
    one_fixture_corpus(tmp.path());
    let corpus = Corpus::read(tmp.path()).unwrap();
    let name = format!("{CASE}@legacy");
    let snap = tmp.path().join(format!("snapshots/{name}.snap"));
    let original = corpus.snapshot(None, &name).unwrap();
    // Rewritten on disk after the plan to what the run will produce: under --bless the
    // run still differs from the plan-time copy, so it writes (and says so).
    let run = Document::parse("## outcome after step 1\nnew\n");
    std::fs::write(&snap, format!("---\nsource: x\n---\n{}", run.render())).unwrap();
    let judge = Judge {
        corpus: &corpus,
        snapshot_dir: &tmp.path().join("snapshots"),
        snapshot_name: &name,
        description: "d",
        implementation: "p",
        waived: &[],
        own_listings: false,
        iptables_listings_bind: true,
        mode: &SnapshotMode::Bless,
        skipped_steps: &[],
    };
    assert_eq!(judge.expected(), Some(original));
    assert!(judge.judge(judge.expected(), &run).is_ok());
    let written = std::fs::read_to_string(&snap).unwrap();
    assert!(written.ends_with(&run.render()), "{written}");
    assert!(
        written.starts_with("---\nsource: conformance/src/snapshot.rs"),
        "{written}"
    );
}
