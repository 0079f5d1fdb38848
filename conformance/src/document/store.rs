//! Where the reviewed snapshots live, and who may change them. Judging an implementation
//! never writes into the suite's checkout: snapshots are read, and a mismatch goes to the
//! report directory the user names (`--artifacts DIR`). Only `--bless` (or insta's own
//! `INSTA_UPDATE`, for maintainers of the in-tree agent) writes snapshots.

use std::path::{Path, PathBuf};

use super::mismatch::{self, Mismatch};
use super::Document;

/// What to do with a snapshot that differs (or does not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Compare only; a mismatch fails the case, and is written to `artifacts` if given.
    ReadOnly { artifacts: Option<PathBuf> },
    /// Write the run's document as the snapshot (a person reviews the diff before
    /// committing).
    Bless,
    /// Hand the comparison to insta (`INSTA_UPDATE=always|new|unseen|auto`).
    Insta,
}

impl SnapshotMode {
    /// `--bless` wins; then an `INSTA_UPDATE` that asks insta to write; else read-only.
    pub fn choose(bless: bool, artifacts: Option<PathBuf>) -> Self {
        if bless {
            return SnapshotMode::Bless;
        }
        match std::env::var("INSTA_UPDATE").as_deref() {
            Ok("always" | "new" | "unseen" | "auto") => SnapshotMode::Insta,
            _ => SnapshotMode::ReadOnly { artifacts },
        }
    }
}

/// What became of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Matched,
    /// Written by `--bless` or insta: review before committing.
    Written(PathBuf),
}

/// The snapshot file of a trial.
pub fn snapshot_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.snap"))
}

/// The body of a stored insta snapshot (after its `---` header), if the file exists. For
/// tools and tests: a run judges against its [`super::corpus::Corpus`], never the disk.
pub fn stored_body(path: &Path) -> Option<String> {
    super::corpus::body_of(&std::fs::read_to_string(path).ok()?)
}

/// Compares `doc` (already rewritten for the profile's waivers, as `expected` is) with
/// `expected` (the snapshot as read at plan time), and acts on a mismatch as `mode` says:
/// writing goes to `dir`, but what is written there is never read back by this run.
pub fn check(
    dir: &Path,
    name: &str,
    description: &str,
    expected: Option<&Document>,
    doc: &Document,
    mode: &SnapshotMode,
) -> Result<Stored, Mismatch> {
    let mismatch = match expected {
        Some(e) => match mismatch::compare(e, doc) {
            None => return Ok(Stored::Matched),
            Some(m) => m,
        },
        None => {
            let headline = format!(
                "no snapshot {} yet (a new fixture? run with --bless, review, commit)",
                snapshot_path(dir, name).display()
            );
            Mismatch {
                step: None,
                differences: vec![mismatch::Difference {
                    step: None,
                    cell: None,
                    text: headline.clone(),
                }],
                headline,
                detail: doc.render(),
            }
        }
    };
    let doc = &doc.render();
    match mode {
        SnapshotMode::ReadOnly { artifacts } => {
            if let Some(out) = artifacts {
                write_artifacts(out, name, description, doc, &mismatch);
            }
            Err(mismatch)
        }
        SnapshotMode::Bless => {
            let path = snapshot_path(dir, name);
            match std::fs::write(&path, snapshot_file(description, doc)) {
                Ok(()) => Ok(Stored::Written(path)),
                Err(e) => Err(Mismatch {
                    headline: format!("--bless: writing {}: {e}", path.display()),
                    ..mismatch
                }),
            }
        }
        SnapshotMode::Insta => insta_update(dir, name, description, doc)
            .map(|()| Stored::Written(snapshot_path(dir, name)))
            .map_err(|_| mismatch),
    }
}

/// A snapshot file as insta writes it, so that insta's tools read it too.
fn snapshot_file(description: &str, doc: &str) -> String {
    let description = serde_json::to_string(description).unwrap_or_default();
    format!("---\nsource: conformance/src/snapshot.rs\ndescription: {description}\n---\n{doc}")
}

/// `DIR/<name>.snap.new` (the run's document, ready to review) and `DIR/<name>.diff`.
fn write_artifacts(dir: &Path, name: &str, description: &str, doc: &str, m: &Mismatch) {
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| {
            std::fs::write(
                dir.join(format!("{name}.snap.new")),
                snapshot_file(description, doc),
            )
        })
        .and_then(|()| {
            std::fs::write(
                dir.join(format!("{name}.diff")),
                format!("{}\n\n{}", m.headline, m.detail),
            )
        });
    if let Err(e) = written {
        eprintln!(
            "error: writing artifacts of {name} to {}: {e}",
            dir.display()
        );
    }
}

/// A unified diff of expected vs actual, for failure messages.
pub fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("snapshot", "actual")
        .to_string()
}

/// Hands a document that differs from the plan-time snapshot to insta, which writes it
/// (or `.snap.new`) as `INSTA_UPDATE` says. `Ok` when insta accepted it.
fn insta_update(dir: &Path, name: &str, description: &str, doc: &str) -> Result<(), ()> {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(description);
    settings.set_omit_expression(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name.to_string(), doc));
    }));
    match result {
        // insta accepted it (INSTA_UPDATE=always or force-pass): report what happened.
        Ok(()) => {
            eprintln!("note: {name}: snapshot written by insta (INSTA_UPDATE)");
            Ok(())
        }
        Err(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_never_touches_the_snapshot_directory() {
        let snaps = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let mode = SnapshotMode::ReadOnly {
            artifacts: Some(out.path().to_path_buf()),
        };
        let m = check(
            snaps.path(),
            "x@nft",
            "d",
            Some(&Document::parse("## a\n1\n")),
            &Document::parse("## a\n2\n"),
            &mode,
        )
        .unwrap_err();
        assert!(m.headline.contains("a differs"), "{m:?}");
        assert_eq!(std::fs::read_dir(snaps.path()).unwrap().count(), 0);
        assert!(out.path().join("x@nft.snap.new").exists());
        assert!(out.path().join("x@nft.diff").exists());
        let missing = check(
            snaps.path(),
            "y@nft",
            "d",
            None,
            &Document::parse("## a\n"),
            &mode,
        )
        .unwrap_err();
        assert!(missing.headline.contains("--bless"), "{missing:?}");
    }

    #[test]
    fn bless_writes_a_snapshot_insta_can_read() {
        let snaps = tempfile::tempdir().unwrap();
        let written = check(
            snaps.path(),
            "z@legacy",
            "why \"it\" exists",
            None,
            &Document::parse("## a\n1\n"),
            &SnapshotMode::Bless,
        )
        .unwrap();
        assert_eq!(written, Stored::Written(snaps.path().join("z@legacy.snap")));
        assert_eq!(
            stored_body(&snaps.path().join("z@legacy.snap")).as_deref(),
            Some("## a\n1\n")
        );
    }
}
