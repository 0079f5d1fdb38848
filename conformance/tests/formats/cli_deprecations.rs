//! The old spellings of the command line still work, print what their new spellings
//! print, and say on stderr that they are deprecated (conformance/src/cli/legacy.rs).
//! Nothing here needs root: printing a schema and --help touch no network.

use std::process::{Command, Output};

fn masq_conformance(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn old_schema_flags_print_the_same_schema_and_a_note() {
    for (old, new) in [
        ("--print-schema", &["schema", "fixture"]),
        ("--print-report-schema", &["schema", "report"]),
    ] {
        let (old_out, new_out) = (masq_conformance(&[old]), masq_conformance(new));
        assert!(old_out.status.success() && new_out.status.success());
        assert_eq!(old_out.stdout, new_out.stdout, "{old}");
        let note = stderr(&old_out);
        let replacement = format!("use `masq-conformance {}`", new.join(" "));
        assert!(
            note.contains(&format!("`masq-conformance {old}` is deprecated")),
            "{note}"
        );
        assert!(note.contains(&replacement), "{note}");
        assert_eq!(stderr(&new_out), "", "{new:?}");
    }
}

#[test]
fn masq_generate_is_generate_with_a_note() {
    let old = Command::new(env!("CARGO_BIN_EXE_masq-generate"))
        .arg("--help")
        .output()
        .unwrap();
    let new = masq_conformance(&["generate", "--help"]);
    assert!(old.status.success() && new.status.success());
    assert_eq!(old.stdout, new.stdout);
    let note = stderr(&old);
    assert!(note.contains("`masq-generate` is deprecated"), "{note}");
    assert!(note.contains("use `masq-conformance generate`"), "{note}");
}

#[test]
fn the_suite_version_is_printed_by_version() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("masq-conformance {}", env!("CARGO_PKG_VERSION"))
    );
}
