//! Whether a run covers the whole suite: the suite's own corpus (the in-tree fixtures),
//! every fixture, every backend the suite defines, judged read-only. Anything less is a
//! partial run, recorded in the report with what restricted it, and never a verdict on
//! conformance (issue 20, item 5).

use std::path::Path;

use super::args::own_corpus_dir;
use super::SuiteOptions;
use crate::document::corpus::Corpus;
use crate::document::store::SnapshotMode;
use crate::verdict::build::Planned;
use crate::verdict::Coverage;
use crate::vocabulary::IptablesBackend;

/// What restricted this run, if anything.
pub fn of(
    opts: &SuiteOptions,
    corpus: &Corpus,
    planned: &[Planned],
    mode: &SnapshotMode,
) -> Coverage {
    let mut why = Vec::new();
    if let Some(reason) = other_corpus(&opts.fixtures_dir, corpus, &own_corpus_dir()) {
        why.push(reason);
    }
    let left_out = planned
        .iter()
        .filter(|p| !opts.selects(&format!("{}::{}", p.fixture, p.backend.name())))
        .count();
    if left_out > 0 {
        let mut how = Vec::new();
        if !opts.filters.is_empty() {
            how.push(format!("filters {:?}", opts.filters));
        }
        if !opts.skips.is_empty() {
            how.push(format!("--skip {:?}", opts.skips));
        }
        if opts.exact {
            how.push("--exact".to_string());
        }
        why.push(format!(
            "{} leave out {left_out} of {} cases",
            how.join(" "),
            planned.len()
        ));
    }
    let missing: Vec<&str> = IptablesBackend::ALL
        .iter()
        .filter(|b| !opts.backends.contains(b))
        .map(|b| b.name())
        .collect();
    if !missing.is_empty() {
        why.push(format!(
            "backend(s) {} left out (the suite defines {})",
            missing.join(", "),
            IptablesBackend::ALL.map(|b| b.name()).join(", ")
        ));
    }
    if !matches!(mode, SnapshotMode::ReadOnly { .. }) {
        why.push(
            "snapshots written by this run (--bless or INSTA_UPDATE): it was held to what it wrote"
                .into(),
        );
    }
    Coverage::restricted_by(why)
}

/// Why `corpus` (read from `dir`) is not the suite's own corpus at `own`, if it is not.
fn other_corpus(dir: &Path, corpus: &Corpus, own: &Path) -> Option<String> {
    let same_dir = match (std::fs::canonicalize(dir), std::fs::canonicalize(own)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same_dir {
        return None;
    }
    match Corpus::read(own) {
        Ok(suite) if suite.digest() == corpus.digest() => None,
        Ok(suite) => Some(format!(
            "--fixtures {}: its corpus ({}) is not the suite's own ({}, {})",
            dir.display(),
            corpus.digest(),
            own.display(),
            suite.digest()
        )),
        Err(e) => Some(format!(
            "--fixtures {}: the suite's own corpus could not be read to compare ({e})",
            dir.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::args::in_tree;
    use super::*;

    fn planned(fixture: &str, backend: IptablesBackend) -> Planned {
        Planned {
            fixture: fixture.into(),
            backend,
            features: vec![],
        }
    }

    #[test]
    fn filters_skips_backends_and_bless_make_a_run_partial() {
        let dir = in_tree("fixtures");
        let corpus = Corpus::read(&dir).unwrap();
        let all = [
            planned("a", IptablesBackend::Legacy),
            planned("a", IptablesBackend::Nft),
        ];
        let read_only = SnapshotMode::ReadOnly { artifacts: None };
        let mut opts = SuiteOptions::new(vec![]);
        opts.fixtures_dir = dir.clone();
        assert!(of(&opts, &corpus, &all, &read_only).is_full());
        // A filter that leaves nothing out restricts nothing.
        opts.filters = vec!["a::".into()];
        assert!(of(&opts, &corpus, &all, &read_only).is_full());
        opts.skips = vec!["nft".into()];
        let c = of(&opts, &corpus, &all, &read_only);
        assert_eq!(
            c.restricted_by,
            ["filters [\"a::\"] --skip [\"nft\"] leave out 1 of 2 cases"]
        );
        let mut opts = SuiteOptions::new(vec![]);
        opts.fixtures_dir = dir.clone();
        opts.backends = vec![IptablesBackend::Legacy];
        let c = of(&opts, &corpus, &all[..1], &SnapshotMode::Bless);
        assert_eq!(c.restricted_by.len(), 2, "{c:?}");
        assert!(
            c.restricted_by[0].contains("backend(s) nft left out"),
            "{c:?}"
        );
        assert!(c.restricted_by[1].contains("--bless"), "{c:?}");
    }

    #[test]
    fn another_corpus_is_partial_and_a_copy_of_the_suites_is_not() {
        let own = in_tree("fixtures");
        let corpus = Corpus::read(&own).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(other_corpus(elsewhere.path(), &corpus, &own), None);
        let one = Corpus::from_files(
            elsewhere.path(),
            [("a.yaml".to_string(), b"x".to_vec())].into(),
        );
        let why = other_corpus(elsewhere.path(), &one, &own).unwrap();
        assert!(why.contains("is not the suite's own"), "{why}");
    }
}
