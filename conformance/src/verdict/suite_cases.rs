//! The suite a report is verified against: the corpus `verify-report` and `badge` run
//! from (the in-tree fixtures, or `--fixtures DIR`), its digest recomputed, and its cases
//! (every fixture × every backend the suite defines) with the features each exercises.

use std::collections::BTreeMap;
use std::path::Path;

use crate::document::corpus::Corpus;
use crate::fixture::{fixtures_of, FixtureError};
use crate::vocabulary::{Feature, IptablesBackend};

/// The suite's version: the masq-conformance crate's version today (the corpus digest
/// tells corpora of one version apart).
pub const SUITE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a report of this suite must match.
#[derive(Debug, Clone)]
pub struct SuiteCases {
    /// Where the corpus was read (named in messages).
    pub dir: std::path::PathBuf,
    /// The corpus digest (`sha256:...`).
    pub digest: String,
    /// Fixture name → the features it exercises.
    pub fixtures: BTreeMap<String, Vec<Feature>>,
}

impl SuiteCases {
    /// Reads the corpus of `dir` (its fixtures parsed: a report's cases are held to them).
    pub fn read(dir: &Path) -> Result<SuiteCases, FixtureError> {
        let corpus = Corpus::read(dir)?;
        Self::of(&corpus)
    }

    /// The cases of a corpus already read.
    pub fn of(corpus: &Corpus) -> Result<SuiteCases, FixtureError> {
        let fixtures = fixtures_of(corpus)?
            .into_iter()
            .map(|(name, f)| (name, f.features))
            .collect();
        Ok(SuiteCases {
            dir: corpus.dir.clone(),
            digest: corpus.digest().to_string(),
            fixtures,
        })
    }

    /// Every case name (`fixture::backend`), sorted, with its features.
    pub fn cases(&self) -> impl Iterator<Item = (String, &[Feature])> {
        self.fixtures.iter().flat_map(|(name, features)| {
            IptablesBackend::ALL
                .iter()
                .map(move |b| (format!("{name}::{}", b.name()), features.as_slice()))
        })
    }
}
