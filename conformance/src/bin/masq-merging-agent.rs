//! A minimal implementation that merges several config files, built on the in-tree agent:
//! the suite's stand-in for forks with that feature, against which the multi-file fixtures
//! were reviewed (docs/spec.md §9). Not an agent to deploy.
//!
//! `masq-merging-agent DIR NAME,NAME,... AGENT [FLAGS...]`: every resync period it reads
//! the named files of DIR (absent ones are skipped), merges them — the union of their
//! `nonMasqueradeCIDRs`; any other key set by several files must agree — and runs
//! `AGENT --once --config MERGED FLAGS...`. A file that does not parse, or files that
//! disagree, leave the last good rules in place until the next period. The merged file
//! is written under /etc, which the runner overlays for the implementation.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use serde_json::{Map, Value};

/// The reference's default resync interval.
const DEFAULT_PERIOD: Duration = Duration::from_secs(60);

/// The key names of the config, for matching case-insensitively as the reference does.
const KEYS: [&str; 5] = [
    "nonMasqueradeCIDRs",
    "cidrLimit",
    "masqLinkLocal",
    "masqLinkLocalIPv6",
    "resyncInterval",
];

fn canonical(key: &str) -> Option<&'static str> {
    KEYS.iter().copied().find(|k| k.eq_ignore_ascii_case(key))
}

/// Merges the files that exist; `Err` says why the merge is invalid.
fn merge(dir: &Path, names: &[String]) -> Result<Map<String, Value>, String> {
    let mut merged = Map::new();
    for name in names {
        let path = dir.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        if text.trim().is_empty() {
            continue;
        }
        let value: Value = serde_saphyr::from_str(&text)
            .map_err(|e| format!("{}: not a config: {e}", path.display()))?;
        let Value::Object(map) = value else {
            return Err(format!("{}: not a mapping", path.display()));
        };
        for (key, value) in map {
            let Some(key) = canonical(&key) else {
                continue; // unknown keys are ignored, as the reference does
            };
            if key == "nonMasqueradeCIDRs" {
                let Value::Array(items) = value else {
                    return Err(format!(
                        "{}: nonMasqueradeCIDRs is not a list",
                        path.display()
                    ));
                };
                let list = merged
                    .entry(key)
                    .or_insert_with(|| Value::Array(Vec::new()))
                    .as_array_mut()
                    .expect("a list");
                for item in items {
                    if !list.contains(&item) {
                        list.push(item);
                    }
                }
            } else {
                match merged.get(key) {
                    Some(earlier) if *earlier != value => {
                        return Err(format!(
                            "{}: {key} is {value}, another file says {earlier}",
                            path.display()
                        ))
                    }
                    _ => {
                        merged.insert(key.to_string(), value);
                    }
                }
            }
        }
    }
    Ok(merged)
}

fn period_of(merged: &Map<String, Value>) -> Option<Duration> {
    let text = merged.get("resyncInterval")?.as_str()?;
    masq_conformance::go_duration::GoDuration::parse(text)
        .ok()
        .map(|d| d.get().max(Duration::from_millis(100)))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: masq-merging-agent DIR NAME,NAME,... AGENT [FLAGS...]");
        return ExitCode::from(2);
    }
    let dir = PathBuf::from(&args[0]);
    let names: Vec<String> = args[1].split(',').map(str::to_string).collect();
    let (agent, flags) = (&args[2], &args[3..]);
    let merged_path = Path::new("/etc/masq-merging-agent/merged.json");
    if let Err(e) = std::fs::create_dir_all(merged_path.parent().expect("a parent")) {
        eprintln!("masq-merging-agent: {e}");
        return ExitCode::FAILURE;
    }
    let mut period = DEFAULT_PERIOD;
    loop {
        match merge(&dir, &names) {
            Ok(merged) => {
                let text = serde_json::to_string(&merged).expect("JSON");
                match std::fs::write(merged_path, &text) {
                    Ok(()) => {
                        let status = Command::new(agent)
                            .args(["--once", "--config"])
                            .arg(merged_path)
                            .args(flags)
                            .status();
                        match status {
                            Ok(s) if s.success() => {
                                eprintln!("masq-merging-agent: synced {text}");
                                period = period_of(&merged).unwrap_or(period);
                            }
                            other => eprintln!(
                                "masq-merging-agent: the agent rejected {text} ({other:?}); keeping the last good rules"
                            ),
                        }
                    }
                    Err(e) => {
                        eprintln!("masq-merging-agent: writing {}: {e}", merged_path.display())
                    }
                }
            }
            Err(e) => {
                eprintln!("masq-merging-agent: invalid merge: {e}; keeping the last good rules")
            }
        }
        std::thread::sleep(period);
    }
}
