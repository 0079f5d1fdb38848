//! `cargo test` runs the conformance suite against the in-tree agent.
//!
//! Needs root and both iptables backends; without them every trial is reported as ignored
//! and a "SKIPPED: ..." line says why — never a silent pass.

use std::path::Path;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    masq_conformance::guard::init();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::set_current_dir(&root).expect("entering the workspace root");
    if std::env::var_os("INSTA_WORKSPACE_ROOT").is_none() {
        std::env::set_var("INSTA_WORKSPACE_ROOT", &root);
    }
    let args: Vec<String> = std::env::args().collect();
    let listing = args.iter().any(|a| a == "--list");
    if !listing
        && masq_conformance::suite::unavailable(&masq_conformance::iptables::Backend::ALL).is_none()
    {
        // The default profile runs target/release/ip-masq-agent: make sure it is current.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "ip-masq-agent",
                "--bin",
                "ip-masq-agent",
            ])
            .status();
        match status {
            Ok(s) if s.success() => {}
            other => {
                eprintln!("error: building the in-tree agent for the conformance suite: {other:?}");
                return ExitCode::FAILURE;
            }
        }
    }
    masq_conformance::suite::main_with(args, true)
}
