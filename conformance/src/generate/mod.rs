//! `masq-generate`: random cases run against an implementation in the sandbox, every
//! probe compared with [`crate::model`]; a disagreement is shrunk and written as a fixture
//! (with the model's snapshots) that fails against the implementation.
//!
//! One generated case is one sandbox and one implementation process that sees a
//! sequence of configs (config swaps, each read within a 100 ms resync), probed after
//! each. Deterministic per seed: case `i` draws from its own stream of the seed.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::case::{run_case, CaseSpec};
use crate::document::{Document, Section};
use crate::fixture::Fixture;
use crate::model::check::{check_document, SectionCheck};
use crate::model::replay::predict;
use crate::model::ModelVerdict;
use crate::profile::Profile;
use crate::vocabulary::IptablesBackend;
use crate::vocabulary::Outcome;
use crate::vocabulary::{OutcomeRow, OutcomeTable};

pub mod case;
pub mod config;

pub use case::{generate, GenCase};
pub use config::GenConfig;

/// What to generate and against what (the command line is `masq-conformance generate`,
/// [`crate::cli`]).
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    pub count: u64,
    /// The most configs one case publishes.
    pub configs: usize,
    pub profile: PathBuf,
    pub backends: Vec<IptablesBackend>,
    pub out: Option<PathBuf>,
    /// Cases in flight.
    pub threads: usize,
    /// The most re-runs spent shrinking one disagreement.
    pub shrink_budget: usize,
}

/// What one run of a generated case showed.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    /// Cells compared with the model, and cells it did not judge.
    pub cells: usize,
    pub not_modelled: usize,
    /// Every disagreement (or the case's error), one line each.
    pub diffs: Vec<String>,
}

/// Runs `case` once in a fresh sandbox and compares its tables with the model.
pub fn judge(
    case: &GenCase,
    name: &str,
    profile: &Profile,
    backend: IptablesBackend,
    scratch: &Path,
) -> Result<Judged, String> {
    let path = scratch.join(format!("{name}.yaml"));
    std::fs::write(&path, case.fixture_text("generated"))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let fixture = Fixture::load(&path).map_err(|e| format!("generated an invalid fixture: {e}"))?;
    let _ = std::fs::remove_file(&path);
    let run = run_case(&CaseSpec {
        name,
        fixture: &fixture,
        profile,
        backend,
        expected: None,
        without_iptables: false,
    });
    let mut j = Judged::default();
    if let Some(e) = run.error {
        j.diffs.push(format!("the case failed: {e}"));
        return Ok(j);
    }
    let sections = check_document(&fixture, &run.output.document)?;
    for s in sections {
        match s.check {
            SectionCheck::Agrees { cells, skipped } => {
                j.cells += cells;
                j.not_modelled += skipped.len();
            }
            SectionCheck::NotModelled(_) => j.not_modelled += 1,
            SectionCheck::Disagrees(d) => j.diffs.extend(d.into_iter().map(|l| {
                // check.rs speaks of the snapshot: here, what the implementation did
                let l = l.replace(": snapshot ", ": implementation ");
                format!("after step {}: {l}", s.step)
            })),
        }
    }
    Ok(j)
}

/// Destination names a disagreement line mentions (`NAME (ADDR)/proto: ...`).
fn named_destinations(diffs: &[String]) -> Vec<String> {
    diffs
        .iter()
        .filter_map(|d| {
            let rest = d.split_once(": ").map(|(_, r)| r)?;
            Some(rest.split_once(" (")?.0.to_string())
        })
        .collect()
}

/// Smaller variants of `case`, most promising first.
fn candidates(case: &GenCase, diffs: &[String]) -> Vec<GenCase> {
    let mut out = Vec::new();
    let named = named_destinations(diffs);
    if !named.is_empty() {
        let mut c = case.clone();
        c.destinations.retain(|(n, _)| named.contains(n));
        if c.destinations.len() < case.destinations.len() {
            out.push(c);
        }
    }
    for i in (0..case.configs.len()).rev() {
        if case.configs.len() > 1 {
            let mut c = case.clone();
            c.configs.remove(i);
            out.push(c);
        }
    }
    for (i, cfg) in case.configs.iter().enumerate() {
        if let GenConfig::Map {
            cidrs: Some(list), ..
        } = cfg
        {
            for k in (0..list.len()).rev() {
                let mut c = case.clone();
                if let GenConfig::Map { cidrs: Some(l), .. } = &mut c.configs[i] {
                    l.remove(k);
                }
                out.push(c);
            }
        }
        if let GenConfig::Map { .. } = cfg {
            for which in 0..6 {
                let mut s = cfg.clone();
                let GenConfig::Map {
                    json,
                    cidr_limit,
                    masq_link_local,
                    masq_link_local_ipv6,
                    key_case,
                    unknown_key,
                    ..
                } = &mut s
                else {
                    continue;
                };
                let changed = match which {
                    0 => std::mem::take(json),
                    1 => cidr_limit.take().is_some(),
                    2 => masq_link_local.take().is_some(),
                    3 => masq_link_local_ipv6.take().is_some(),
                    4 => std::mem::take(key_case) != 0,
                    _ => std::mem::take(unknown_key),
                };
                if changed {
                    let mut c = case.clone();
                    c.configs[i] = s;
                    out.push(c);
                }
            }
        }
    }
    for (i, f) in case.flags.iter().enumerate() {
        let mut c = case.clone();
        let n = if f == "--to-ports" { 2 } else { 1 };
        c.flags.drain(i..(i + n).min(case.flags.len()));
        out.push(c);
    }
    if case.destinations.len() > 1 {
        for i in (0..case.destinations.len()).rev() {
            let mut c = case.clone();
            c.destinations.remove(i);
            out.push(c);
        }
    }
    out
}

/// Shrinks `case` while it still disagrees, within `budget` runs.
pub fn shrink(
    mut case: GenCase,
    mut diffs: Vec<String>,
    budget: usize,
    run: &dyn Fn(&GenCase) -> Option<Judged>,
) -> (GenCase, Vec<String>, usize) {
    let mut runs = 0;
    'outer: while runs < budget {
        for c in candidates(&case, &diffs)
            .into_iter()
            .filter(GenCase::runnable)
        {
            if runs >= budget {
                break 'outer;
            }
            runs += 1;
            if let Some(j) = run(&c) {
                if !j.diffs.is_empty() {
                    case = c;
                    diffs = j.diffs;
                    continue 'outer;
                }
            }
        }
        break;
    }
    (case, diffs, runs)
}

/// The model's snapshot document for `fixture` (outcome sections only), if it judges
/// every cell.
pub fn model_document(fixture: &Fixture) -> Option<Document> {
    let mut doc = Document::default();
    for p in predict(fixture).ok()? {
        let rows = p.rows.ok()?;
        let mut table = OutcomeTable {
            direction: p.direction,
            ..OutcomeTable::default()
        };
        for r in rows {
            let mut outcomes = std::collections::BTreeMap::new();
            for (proto, v) in r.cells {
                let o = match v {
                    ModelVerdict::Masqueraded { .. } => Outcome::Masqueraded,
                    ModelVerdict::NotMasqueraded => Outcome::NotMasqueraded,
                    ModelVerdict::Dropped => Outcome::Dropped,
                    ModelVerdict::NotModelled(_) => return None,
                };
                outcomes.insert(proto, o);
            }
            table.rows.push(OutcomeRow {
                name: r.name,
                address: r.address,
                outcomes,
                notes: Default::default(),
            });
        }
        doc.push(Section::outcome(p.step, &table));
    }
    Some(doc)
}

/// Writes the fixture and its model snapshots (for every backend) into `dir`.
pub fn write_fixture(
    dir: &Path,
    name: &str,
    case: &GenCase,
    description: &str,
) -> Result<PathBuf, String> {
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::create_dir_all(dir.join("snapshots")).map_err(io)?;
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, case.fixture_text(description)).map_err(io)?;
    let schema = dir.join("schema.json");
    if !schema.exists() {
        std::fs::write(&schema, crate::fixture::schema()).map_err(io)?;
    }
    let fixture = Fixture::load(&path).map_err(|e| e.to_string())?;
    let doc = model_document(&fixture)
        .ok_or("the model does not judge every cell of it")?
        .render();
    for b in IptablesBackend::ALL {
        let snap = dir.join(format!("snapshots/{name}@{}.snap", b.name()));
        let text = format!(
            "---\nsource: conformance/src/snapshot.rs\ndescription: {}\n---\n{doc}",
            serde_json::Value::from(description)
        );
        std::fs::write(&snap, text).map_err(io)?;
    }
    Ok(path)
}

/// Totals of a run.
#[derive(Debug, Default)]
pub struct Totals {
    pub cases: u64,
    pub configs: u64,
    pub cells: usize,
    pub not_modelled: usize,
    pub disagreements: Vec<String>,
    /// Disagreements that a second run of the same case did not show.
    pub unreproduced: Vec<String>,
    pub written: Vec<PathBuf>,
}

/// Runs the generator; returns the totals (`Err`: it could not run at all).
pub fn run(o: &Options) -> Result<Totals, String> {
    crate::guard::init();
    if let Some(why) = crate::suite::unavailable(&o.backends) {
        return Err(format!("cannot run: {why}"));
    }
    let profile = Profile::load(&o.profile).map_err(|e| e.to_string())?;
    let scratch = std::env::temp_dir().join(format!("masq-generate-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    println!(
        "masq-generate: seed {} (repeat with --seed {} --count {})",
        o.seed, o.seed, o.count
    );
    let next = AtomicU64::new(0);
    let totals = Mutex::new(Totals::default());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..o.threads.min(o.count.max(1) as usize) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= o.count {
                    return;
                }
                let case = generate(o.seed, i, o.configs);
                for &backend in &o.backends {
                    let name = format!("gen-s{}-c{i}-{}", o.seed, backend.name());
                    let judged = judge(&case, &name, &profile, backend, &scratch);
                    let mut t = totals.lock().expect("totals");
                    t.cases += 1;
                    t.configs += case.configs.len() as u64;
                    let j = match judged {
                        Ok(j) => j,
                        Err(e) => {
                            t.disagreements.push(format!("{name}: {e}"));
                            continue;
                        }
                    };
                    t.cells += j.cells;
                    t.not_modelled += j.not_modelled;
                    if j.diffs.is_empty() {
                        continue;
                    }
                    drop(t);
                    println!("{name}: disagrees with the model: {}", j.diffs[0]);
                    let runner = |c: &GenCase| judge(c, &name, &profile, backend, &scratch).ok();
                    // A disagreement that does not come back is timing, not behaviour:
                    // counted and named, but never shrunk into a fixture.
                    if runner(&case).is_none_or(|again| again.diffs.is_empty()) {
                        println!("{name}: did not reproduce on a second run: not written");
                        totals
                            .lock()
                            .expect("totals")
                            .unreproduced
                            .push(format!("{name}: {}", j.diffs.join("; ")));
                        continue;
                    }
                    let (small, diffs, runs) = shrink(case.clone(), j.diffs, o.shrink_budget, &runner);
                    let description = format!(
                        "Generated by masq-generate --seed {} (case {i}, {}), shrunk in {runs} runs; the implementation disagreed with the model of docs/spec.md: {}",
                        o.seed,
                        backend.name(),
                        diffs.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
                    );
                    let mut t = totals.lock().expect("totals");
                    t.disagreements.push(format!("{name}: {}", diffs.join("; ")));
                    if let Some(dir) = &o.out {
                        match write_fixture(dir, &name, &small, &description) {
                            Ok(p) => {
                                println!("{name}: wrote {}", p.display());
                                t.written.push(p);
                            }
                            Err(e) => println!("{name}: could not write the fixture: {e}"),
                        }
                    }
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let t = totals.into_inner().expect("totals");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "masq-generate: seed {}: {} cases ({} configs) in {secs:.1} s ({:.0} cases/min, {:.0} configs/min); {} cells agreed with the model, {} not modelled; {} disagreement(s), {} more that did not reproduce",
        o.seed,
        t.cases,
        t.configs,
        t.cases as f64 * 60.0 / secs,
        t.configs as f64 * 60.0 / secs,
        t.cells,
        t.not_modelled,
        t.disagreements.len(),
        t.unreproduced.len()
    );
    for d in &t.unreproduced {
        println!("  did not reproduce: {d}");
    }
    let _ = std::io::stdout().flush();
    Ok(t)
}
