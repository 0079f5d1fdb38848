//! Judging a run's document against its reviewed snapshot: the profile's waivers applied
//! to both, the listings that do not bind the implementation set aside, and an
//! implementation's own listing held to its own regression snapshot.

use std::path::Path;

use super::corpus::Corpus;
use super::store::{self, SnapshotMode, Stored};
use super::waivers::{self, ListingAspect};
use super::{Document, Mismatch, SectionKind};

/// What judging a trial's document needs to know of the trial and the profile.
pub struct Judge<'a> {
    /// The snapshots as read at plan time: what every trial is judged against.
    pub corpus: &'a Corpus,
    /// Where the normative snapshots are written (`--bless`, `INSTA_UPDATE`); never read.
    pub snapshot_dir: &'a Path,
    /// `<case>@<backend>`.
    pub snapshot_name: &'a str,
    /// The fixture's description (a written snapshot's header).
    pub description: &'a str,
    /// The implementation's name (its own snapshots are under `<dir>/<name>/`).
    pub implementation: &'a str,
    /// Listing aspects the profile waives.
    pub waived: &'a [ListingAspect],
    /// The implementation keeps rules of another kind than iptables: its own listing is
    /// its own regression snapshot, and the normative one binds only its outcomes.
    pub own_listings: bool,
    /// Whether the iptables listings bind the implementation (else the stored ones
    /// stand in for the run's).
    pub iptables_listings_bind: bool,
    pub mode: &'a SnapshotMode,
    /// Steps whose sections are not judged: they show a feature the profile does not
    /// claim (`Feature::skips_steps`). The snapshot is then never written by this run.
    pub skipped_steps: &'a [usize],
}

/// Why a document was rejected.
#[derive(Debug)]
pub enum Rejection {
    /// It differs from the normative snapshot.
    Snapshot(Mismatch),
    /// The implementation's own listing differs from its regression snapshot (the
    /// headline says so).
    OwnListing(Mismatch),
}

impl Judge<'_> {
    /// The normative snapshot as the run is held to it (waivers applied): what the case
    /// waits for, and what [`Judge::judge`] compares with.
    pub fn expected(&self) -> Option<Document> {
        self.corpus
            .snapshot(None, self.snapshot_name)
            .map(|s| waivers::apply(&s, self.waived))
    }

    /// Compares the run's `document` with `expected` (from [`Judge::expected`]); a wrong
    /// outcome is reported before a changed own listing.
    pub fn judge(&self, expected: Option<Document>, document: &Document) -> Result<(), Rejection> {
        let mut doc = waivers::apply(document, self.waived);
        let mut expected = expected;
        let mut mode = self.mode.clone();
        let mut own_verdict = Ok(());
        if !self.skipped_steps.is_empty() {
            let keep = |s: &super::Section| {
                !s.heading
                    .step()
                    .is_some_and(|n| self.skipped_steps.contains(&n))
            };
            doc = doc.filtered(keep);
            expected = expected.map(|e| e.filtered(keep));
            if !matches!(mode, SnapshotMode::ReadOnly { .. }) {
                mode = SnapshotMode::ReadOnly { artifacts: None };
            }
        }
        if self.own_listings {
            // Its own listing is its own regression snapshot; the normative one binds only
            // its outcomes, and is never rewritten by its run.
            let own = doc.filtered(|s| s.kind() == SectionKind::Nft);
            own_verdict = self.check_own(&own).map_err(Rejection::OwnListing);
            doc = doc.filtered(|s| !s.kind().is_listing());
            expected = expected.map(|e| e.filtered(|s| !s.kind().is_listing()));
            if !matches!(mode, SnapshotMode::ReadOnly { .. }) {
                mode = SnapshotMode::ReadOnly { artifacts: None };
            }
        } else if !self.iptables_listings_bind {
            if let Some(stored) = &expected {
                doc = doc.with_stored_rules(stored);
            }
        }
        let verdict = match store::check(
            self.snapshot_dir,
            self.snapshot_name,
            self.description,
            expected.as_ref(),
            &doc,
            &mode,
        ) {
            Ok(Stored::Matched) => Ok(()),
            Ok(Stored::Written(path)) => {
                eprintln!(
                    "note: {}: snapshot written to {} (review it before committing)",
                    self.snapshot_name,
                    path.display()
                );
                Ok(())
            }
            Err(m) => Err(Rejection::Snapshot(m)),
        };
        verdict.and(own_verdict)
    }

    /// Compares the implementation's own listing with its regression snapshot
    /// (`snapshots/<name>/<case>@<backend>.snap`) when there is one; writes it only when
    /// asked (`--bless`, `INSTA_UPDATE`).
    fn check_own(&self, own: &Document) -> Result<(), Mismatch> {
        let dir = self.snapshot_dir.join(self.implementation);
        let stored = self
            .corpus
            .snapshot(Some(self.implementation), self.snapshot_name);
        let read_only = matches!(self.mode, SnapshotMode::ReadOnly { .. });
        if stored.is_none() && (own.is_empty() || read_only) {
            return Ok(()); // nothing recorded for this implementation: nothing to compare
        }
        if !read_only {
            if let Err(e) = std::fs::create_dir_all(&dir) {
                let headline = format!("creating {}: {e}", dir.display());
                return Err(Mismatch {
                    step: None,
                    differences: vec![super::mismatch::Difference {
                        step: None,
                        cell: None,
                        text: headline.clone(),
                    }],
                    headline,
                    detail: String::new(),
                });
            }
        }
        let mode = match self.mode {
            SnapshotMode::ReadOnly { artifacts } => SnapshotMode::ReadOnly {
                artifacts: artifacts.as_ref().map(|a| a.join(self.implementation)),
            },
            other => other.clone(),
        };
        let description = format!(
            "{}'s own listing (a regression snapshot of this implementation, not normative): {}",
            self.implementation, self.description
        );
        let name = self.snapshot_name;
        match store::check(&dir, name, &description, stored.as_ref(), own, &mode) {
            Ok(Stored::Matched) => Ok(()),
            Ok(Stored::Written(path)) => {
                eprintln!(
                    "note: {name}: implementation snapshot written to {} (review it before committing)",
                    path.display()
                );
                Ok(())
            }
            Err(m) => Err(Mismatch {
                headline: format!(
                    "{}'s own listing differs from its regression snapshot: {}",
                    self.implementation, m.headline
                ),
                ..m
            }),
        }
    }
}
