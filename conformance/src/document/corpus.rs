//! The suite's corpus read once: every fixture (`*.yaml`) and every snapshot
//! (`snapshots/**/*.snap`) of a fixtures directory, in memory and hashed before any
//! implementation starts. Trials are judged against this copy and the report's digest is
//! of it, so that an implementation rewriting the files of later trials changes neither
//! (issue 20, "read once, judged once"). Writing (`--bless`, `INSTA_UPDATE`) still goes
//! to the directory; judging never reads it again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::Document;

/// A corpus file larger than this is refused: fixtures and snapshots are a few KiB, and
/// a runaway file (`/dev/zero` behind a name) must not exhaust memory.
pub const MAX_FILE_BYTES: u64 = crate::bounded_file::MAX_INPUT_BYTES;

/// Why a corpus could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    Refused { path: PathBuf, why: String },
}

/// The bytes of a fixtures directory, as read at plan time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Corpus {
    /// Where it was read from (where `--bless` writes).
    pub dir: PathBuf,
    /// Path relative to `dir` (`/`-separated) → bytes.
    files: BTreeMap<String, Vec<u8>>,
    digest: String,
}

/// `sha256:` and 64 lowercase hex digits: the form of every digest in a report.
pub fn sha256(bytes: impl AsRef<[u8]>) -> String {
    format!("sha256:{}", hex(Sha256::digest(bytes.as_ref())))
}

fn hex(digest: impl AsRef<[u8]>) -> String {
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads one regular file of at most [`MAX_FILE_BYTES`], refusing anything else (a FIFO
/// would hang the read, a device would never end): see [`crate::bounded_file`].
pub fn read_regular(path: &Path) -> Result<Vec<u8>, CorpusError> {
    crate::bounded_file::read(path, MAX_FILE_BYTES).map_err(|e| match e {
        crate::bounded_file::BoundedReadError::Io(source) => CorpusError::Read {
            path: path.into(),
            source,
        },
        refused => CorpusError::Refused {
            path: path.into(),
            why: refused.to_string(),
        },
    })
}

/// The names in `dir` ending in `.ext`, sorted; and its other subdirectories.
fn entries(dir: &Path, ext: &str) -> Result<(Vec<String>, Vec<String>), CorpusError> {
    let read_err = |source| CorpusError::Read {
        path: dir.into(),
        source,
    };
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().map_err(read_err)?;
        // Whatever is named like a corpus file is read (and refused unless it is a
        // regular file: a directory or a device named `x.yaml` is an error, not skipped).
        if name.ends_with(ext) {
            files.push(name);
        } else if kind.is_dir() {
            dirs.push(name);
        }
    }
    files.sort();
    dirs.sort();
    Ok((files, dirs))
}

impl Corpus {
    /// Reads `dir`'s `*.yaml` and `snapshots/*.snap`, `snapshots/<implementation>/*.snap`.
    pub fn read(dir: &Path) -> Result<Corpus, CorpusError> {
        let mut files = BTreeMap::new();
        let (fixtures, _) = entries(dir, ".yaml")?;
        for name in fixtures {
            files.insert(name.clone(), read_regular(&dir.join(&name))?);
        }
        let snapshots = dir.join("snapshots");
        if snapshots.is_dir() {
            let (snaps, subdirs) = entries(&snapshots, ".snap")?;
            for name in snaps {
                let bytes = read_regular(&snapshots.join(&name))?;
                files.insert(format!("snapshots/{name}"), bytes);
            }
            for sub in subdirs {
                let (snaps, _) = entries(&snapshots.join(&sub), ".snap")?;
                for name in snaps {
                    let bytes = read_regular(&snapshots.join(&sub).join(&name))?;
                    files.insert(format!("snapshots/{sub}/{name}"), bytes);
                }
            }
        }
        Ok(Corpus::from_files(dir, files))
    }

    /// A corpus of the given files (relative path → bytes), as if read from `dir`.
    pub fn from_files(dir: &Path, files: BTreeMap<String, Vec<u8>>) -> Corpus {
        // Each file's name and bytes, in name order: the same bytes give the same digest
        // wherever the directory is.
        let mut h = Sha256::new();
        for (name, bytes) in &files {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(bytes);
            h.update([0]);
        }
        Corpus {
            dir: dir.to_path_buf(),
            digest: format!("sha256:{}", hex(h.finalize())),
            files,
        }
    }

    /// The digest of every fixture and snapshot (names and bytes): `sha256:<64 hex>`.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The fixtures: (name without `.yaml`, bytes), sorted by name.
    pub fn fixtures(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files
            .iter()
            .filter(|(n, _)| !n.contains('/'))
            .filter_map(|(n, b)| Some((n.strip_suffix(".yaml")?, b.as_slice())))
    }

    /// The body (after the insta header) of a snapshot: `name` is `<case>@<backend>`,
    /// under `snapshots/<sub>/` when `sub` is given (an implementation's own listings).
    pub fn snapshot_body(&self, sub: Option<&str>, name: &str) -> Option<String> {
        let rel = match sub {
            Some(s) => format!("snapshots/{s}/{name}.snap"),
            None => format!("snapshots/{name}.snap"),
        };
        let text = std::str::from_utf8(self.files.get(&rel)?).ok()?;
        body_of(text)
    }

    /// The stored document of a snapshot, if the corpus has it ([`Corpus::snapshot_body`]).
    pub fn snapshot(&self, sub: Option<&str>, name: &str) -> Option<Document> {
        self.snapshot_body(sub, name).map(|b| Document::parse(&b))
    }
}

/// The body of an insta snapshot's text (after its `---` header).
pub fn body_of(text: &str) -> Option<String> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(rest[end + 5..].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn reads_fixtures_and_snapshots_and_digests_names_and_bytes() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.yaml", "x");
        write(d.path(), "README.md", "not part of it");
        write(d.path(), "snapshots/a@nft.snap", "---\nh: 1\n---\n## s\n");
        write(
            d.path(),
            "snapshots/impl/a@nft.snap",
            "---\nh: 1\n---\n## own\n",
        );
        let c = Corpus::read(d.path()).unwrap();
        assert_eq!(c.fixtures().map(|(n, _)| n).collect::<Vec<_>>(), ["a"]);
        assert_eq!(c.snapshot_body(None, "a@nft").as_deref(), Some("## s\n"));
        assert_eq!(
            c.snapshot_body(Some("impl"), "a@nft").as_deref(),
            Some("## own\n")
        );
        let digest = c.digest().to_string();
        assert!(
            digest.starts_with("sha256:") && digest.len() == 71,
            "{digest}"
        );
        // The README is no part of the corpus; a snapshot's bytes are.
        write(d.path(), "README.md", "changed");
        assert_eq!(Corpus::read(d.path()).unwrap().digest(), digest);
        write(
            d.path(),
            "snapshots/impl/a@nft.snap",
            "---\nh: 1\n---\n## other\n",
        );
        assert_ne!(Corpus::read(d.path()).unwrap().digest(), digest);
    }

    #[test]
    fn refuses_what_is_not_a_small_regular_file() {
        let d = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", d.path().join("z.yaml")).unwrap();
        let e = Corpus::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("z.yaml: not a regular file"), "{e}");
        std::fs::remove_file(d.path().join("z.yaml")).unwrap();
        write(
            d.path(),
            "big.yaml",
            &"x".repeat(MAX_FILE_BYTES as usize + 1),
        );
        let e = Corpus::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("big.yaml: larger than"), "{e}");
    }
}
