//! What a run of the suite is asked to do beyond libtest's options (the command line that
//! fills it in is [`crate::cli`]).

use std::path::{Path, PathBuf};

use crate::vocabulary::IptablesBackend;

/// The in-tree agent's profile, the implementation a run judges unless told otherwise.
pub const DEFAULT_PROFILE: &str = "conformance/implementations/ip-masq-agent-rs.yaml";

/// `rel` from the current directory when it is there, else from the workspace this crate
/// was built in (so that the defaults work from any directory of a checkout).
pub fn in_tree(rel: &str) -> PathBuf {
    let local = PathBuf::from(rel);
    if local.exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// The suite's own corpus: the fixtures of the checkout this binary was built from (not
/// the working directory's, which may be anyone's). A run of another corpus is partial,
/// and reports are verified against this one unless `--fixtures DIR` says otherwise.
pub fn own_corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// Options of the suite beyond libtest's own.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub fixtures_dir: PathBuf,
    pub profile_path: PathBuf,
    pub backends: Vec<IptablesBackend>,
    /// `--iptables DIR`: the iptables unpacked there instead of the machine's.
    pub iptables: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    /// Per-trial phase timings as JSON lines (for benchmarks).
    pub timings: Option<PathBuf>,
    /// Under `cargo test`: missing root or tools skip the suite (visibly) instead of failing.
    pub skip_if_unavailable: bool,
    /// A prerequisite the caller found missing (besides root and the backends).
    pub missing: Option<String>,
    /// Write the run's documents as the snapshots (`--bless`).
    pub bless: bool,
    /// Where mismatching documents and their diffs go (`--artifacts DIR`).
    pub artifacts: Option<PathBuf>,
    /// `--without-iptables`: the implementation's PATH holds no iptables tool and the
    /// runner runs none (for implementations that keep no iptables rules).
    pub without_iptables: bool,
    /// Positional name filters: a trial runs if it matches any (none: every trial).
    pub filters: Vec<String>,
    /// `--skip` filters: a trial that matches any does not run.
    pub skips: Vec<String>,
    /// `--exact`: filters match whole trial names.
    pub exact: bool,
    /// Write the versioned report here (`--report FILE`).
    pub report: Option<PathBuf>,
    /// Add this run's failing cases to this profile's expected_failures.
    pub write_expectations: Option<PathBuf>,
    /// `--repeat N`: run each case N times (overrides the profile's `repeats`; at most
    /// [`crate::profile::MAX_REPEATS`]).
    pub repeat: Option<u32>,
    /// The command line as given (the report says how to reproduce the run).
    pub argv: Vec<String>,
}

impl SuiteOptions {
    /// The defaults: the in-tree agent on both backends, every fixture of ./fixtures.
    pub fn new(argv: Vec<String>) -> Self {
        SuiteOptions {
            fixtures_dir: in_tree("fixtures"),
            profile_path: in_tree(DEFAULT_PROFILE),
            backends: IptablesBackend::ALL.to_vec(),
            iptables: None,
            junit: None,
            timings: None,
            skip_if_unavailable: false,
            missing: None,
            bless: false,
            artifacts: None,
            without_iptables: false,
            filters: Vec::new(),
            skips: Vec::new(),
            exact: false,
            report: None,
            write_expectations: None,
            repeat: None,
            argv,
        }
    }

    /// Whether the trial `name` is selected by the filters.
    pub fn selects(&self, name: &str) -> bool {
        let matches = |f: &String| {
            if self.exact {
                name == f
            } else {
                name.contains(f.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(matches))
            && !self.skips.iter().any(matches)
    }
}
