//! `--write-expectations PROFILE`: bootstrapping a profile's ratchet. The failing cases
//! of a run are added to `expected_failures`, and the cases whose repeats disagreed to
//! `unstable`, with `reason: "TODO"`, keeping the file's comments and the order of what is
//! there (a text edit, not a re-serialisation).

use crate::records::Record;
use crate::vocabulary::CaseState;
use crate::vocabulary::IptablesBackend;

/// The entries to add to `expected_failures`: a fixture that failed on every backend
/// run is one entry, else `fixture::backend`.
pub fn failing_cases(records: &[Record], backends: &[IptablesBackend]) -> Vec<String> {
    cases_where(records, backends, |r| r.state == CaseState::Failed)
}

/// The entries to add to `unstable`: the cases whose repeats disagreed and that the
/// profile does not list (grouped as [`failing_cases`]).
pub fn unstable_cases(records: &[Record], backends: &[IptablesBackend]) -> Vec<String> {
    cases_where(records, backends, |r| {
        r.state == CaseState::Unstable && r.fails_run()
    })
}

fn cases_where(
    records: &[Record],
    backends: &[IptablesBackend],
    pick: impl Fn(&Record) -> bool,
) -> Vec<String> {
    let mut fixtures: Vec<&str> = records
        .iter()
        .filter(|r| pick(r))
        .map(|r| r.fixture.as_str())
        .collect();
    fixtures.sort();
    fixtures.dedup();
    let mut out = Vec::new();
    for f in fixtures {
        let picked: Vec<IptablesBackend> = records
            .iter()
            .filter(|r| r.fixture == f && pick(r))
            .map(|r| r.backend)
            .collect();
        if backends.iter().all(|b| picked.contains(b)) {
            out.push(f.to_string());
        } else {
            out.extend(picked.iter().map(|b| format!("{f}::{}", b.name())));
        }
    }
    out
}

/// `text` (a profile) with `cases` appended to its `expected_failures`.
pub fn add_expected_failures(text: &str, cases: &[String]) -> String {
    add_entries(text, "expected_failures", cases)
}

/// `text` (a profile) with `cases` appended to its list `key` (`expected_failures`,
/// `unstable`), each with `reason: "TODO"`.
pub fn add_entries(text: &str, key: &str, cases: &[String]) -> String {
    let head_key = format!("{key}:");
    if cases.is_empty() {
        return text.to_string();
    }
    let entries: String = cases
        .iter()
        .map(|c| format!("  - case: {c}\n    reason: \"TODO\"\n"))
        .collect();
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with(&head_key)) else {
        let sep = if text.ends_with('\n') || text.is_empty() {
            ""
        } else {
            "\n"
        };
        return format!("{text}{sep}{head_key}\n{entries}");
    };
    let mut out: Vec<String> = lines[..start].iter().map(|l| l.to_string()).collect();
    let head = lines[start];
    let inline = head[head_key.len()..].trim();
    let mut rest = start + 1;
    if inline.starts_with('[') {
        // `expected_failures: []` or a flow list of names: becomes a block list.
        let names = inline.trim_start_matches('[').trim_end_matches(']');
        out.push(head_key.clone());
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            out.push(format!("  - {name}"));
        }
    } else {
        out.push(head.to_string());
        // The block: indented lines (and comments/blank lines inside it).
        while rest < lines.len() && (lines[rest].starts_with(' ') || lines[rest].starts_with('-')) {
            out.push(lines[rest].to_string());
            rest += 1;
        }
    }
    let mut text_out = out.join("\n");
    text_out.push('\n');
    text_out.push_str(&entries);
    for l in &lines[rest..] {
        text_out.push_str(l);
        text_out.push('\n');
    }
    text_out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    #[test]
    fn entries_are_added_keeping_comments_and_order() {
        let text = "# my agent\nname: x\ncommand: [x]\nexpected_failures:\n  # deliberate\n  - case: a\n    reason: r\nenv: {}\n";
        let out = add_expected_failures(text, &["b::nft".into()]);
        assert_eq!(
            out,
            "# my agent\nname: x\ncommand: [x]\nexpected_failures:\n  # deliberate\n  - case: a\n    reason: r\n  - case: b::nft\n    reason: \"TODO\"\nenv: {}\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, &out).unwrap();
        let p = Profile::load(&path).unwrap();
        assert_eq!(p.expected_failures.len(), 2);
    }

    #[test]
    fn flow_lists_and_missing_keys_become_blocks() {
        let out = add_expected_failures(
            "name: x\ncommand: [x]\nexpected_failures: [a]\n",
            &["c".into()],
        );
        assert_eq!(
            out,
            "name: x\ncommand: [x]\nexpected_failures:\n  - a\n  - case: c\n    reason: \"TODO\"\n"
        );
        let out = add_expected_failures("name: x\ncommand: [x]", &["c".into()]);
        assert!(
            out.ends_with("command: [x]\nexpected_failures:\n  - case: c\n    reason: \"TODO\"\n"),
            "{out}"
        );
    }

    #[test]
    fn unstable_entries_go_to_their_own_list() {
        let text = "name: x\ncommand: [x]\nexpected_failures:\n  - case: a\n    reason: r\n";
        let out = add_entries(text, "unstable", &["b".into()]);
        assert_eq!(
            out,
            "name: x\ncommand: [x]\nexpected_failures:\n  - case: a\n    reason: r\nunstable:\n  - case: b\n    reason: \"TODO\"\n"
        );
        let out = add_entries(&out, "unstable", &["c::nft".into()]);
        assert!(out.ends_with("unstable:\n  - case: b\n    reason: \"TODO\"\n  - case: c::nft\n    reason: \"TODO\"\n"), "{out}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, &out).unwrap();
        let p = Profile::load(&path).unwrap();
        assert_eq!(p.unstable.len(), 2);
        assert_eq!(p.expected_failures.len(), 1);
    }

    #[test]
    fn a_fixture_is_one_entry_only_when_every_backend_failed() {
        let record = |backend: IptablesBackend| Record {
            trial: format!("f::{}", backend.name()),
            fixture: "f".into(),
            backend,
            state: CaseState::Failed,
            headline: String::new(),
            detail: String::new(),
            reason: None,
            features: vec![],
            counts_for: None,
            skipped_steps: Vec::new(),
            failing_step: None,
            reload_latencies: vec![],
            message: String::new(),
            tables: vec![],
            duration: std::time::Duration::ZERO,
            phases: vec![],
            unstable: None,
            measurements: Default::default(),
        };
        assert_eq!(
            failing_cases(&[record(IptablesBackend::Legacy)], &IptablesBackend::ALL),
            vec!["f::legacy"]
        );
        assert_eq!(
            failing_cases(
                &[
                    record(IptablesBackend::Legacy),
                    record(IptablesBackend::Nft)
                ],
                &IptablesBackend::ALL
            ),
            vec!["f"]
        );
    }
}
