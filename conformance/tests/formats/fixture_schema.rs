//! The fixture JSON Schema: `fixtures/schema.json` is what the serde types generate, and
//! every fixture in `fixtures/` validates against it. Pure: needs neither root nor iptables.
//!
//! After changing the fixture types, regenerate the file:
//! `target/release/masq-conformance --print-schema > fixtures/schema.json`.

use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures/ is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn stored_schema() -> serde_json::Value {
    let path = fixtures_dir().join("schema.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; generate it with --print-schema", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn stored_schema_is_the_generated_one() {
    let generated: serde_json::Value =
        serde_json::from_str(&masq_conformance::fixture::schema()).expect("schema is JSON");
    assert!(
        stored_schema() == generated,
        "fixtures/schema.json is stale: run `target/release/masq-conformance --print-schema > fixtures/schema.json`"
    );
}

#[test]
fn every_fixture_validates_against_the_schema() {
    let validator = jsonschema::validator_for(&stored_schema()).expect("the schema compiles");
    let files = fixture_files();
    assert!(!files.is_empty(), "no fixtures found in fixtures/");
    let mut problems = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("fixture is readable");
        let value: serde_json::Value = match serde_saphyr::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{}: not YAML: {e}", path.display()));
                continue;
            }
        };
        for error in validator.iter_errors(&value) {
            problems.push(format!(
                "{}: {} (at {})",
                path.display(),
                error,
                error.instance_path()
            ));
        }
        if !text.starts_with("# yaml-language-server: $schema=./schema.json\n") {
            problems.push(format!(
                "{}: the first line should be `# yaml-language-server: $schema=./schema.json`",
                path.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_schema_rejects_what_the_loader_rejects() {
    let validator = jsonschema::validator_for(&stored_schema()).expect("the schema compiles");
    let bad = [
        serde_json::json!({"description": "x", "stepz": []}),
        serde_json::json!({"steps": []}),
        serde_json::json!({"description": "x", "steps": [{"wait": "forever"}]}),
        serde_json::json!({"description": "x", "steps": [{"snapshot": "everything"}]}),
    ];
    for b in bad {
        assert!(!validator.is_valid(&b), "schema accepted {b}");
    }
}
