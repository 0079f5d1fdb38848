//! `cargo test` runs the conformance suite against the in-tree agent.
//!
//! Needs root, both iptables backends and the agent built beside this test (cargo builds
//! it with the workspace; `IP_MASQ_AGENT_BIN` points elsewhere). Without them every trial
//! is reported as ignored and a "SKIPPED: ..." line says why — never a silent pass — and
//! under `CI=true` the run fails instead.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    masq_conformance::guard::init();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::set_current_dir(&root).expect("entering the workspace root");
    if std::env::var_os("INSTA_WORKSPACE_ROOT").is_none() {
        std::env::set_var("INSTA_WORKSPACE_ROOT", &root);
    }
    let agent = std::env::var_os("IP_MASQ_AGENT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_BIN_EXE_masq-conformance")).with_file_name("ip-masq-agent")
        });
    std::env::set_var("IP_MASQ_AGENT_BIN", &agent);
    let args: Vec<String> = std::env::args().collect();
    let listing = args.iter().any(|a| a == "--list");
    // A missing agent is a missing prerequisite like root: the suite reports it.
    let missing = (!listing && !agent.exists()).then(|| {
        format!(
            "the in-tree agent {} is not built (cargo build -p ip-masq-agent)",
            agent.display()
        )
    });
    masq_conformance::cli::main_with(args, true, missing)
}
