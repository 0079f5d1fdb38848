//! Helpers shared by the runner's self-test harnesses.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use masq_conformance::iptables;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The in-tree agent: `IP_MASQ_AGENT_BIN`, or the build beside this test's own binaries
/// (cargo builds it with the workspace).
pub fn agent() -> PathBuf {
    std::env::var_os("IP_MASQ_AGENT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_BIN_EXE_masq-conformance")).with_file_name("ip-masq-agent")
        })
}

/// Why the root tests cannot run here, if they cannot.
pub fn missing_prerequisite() -> Option<String> {
    if let Some(why) = masq_conformance::suite::unavailable(&iptables::Backend::ALL) {
        return Some(why);
    }
    let agent = agent();
    (!agent.exists()).then(|| {
        format!(
            "the in-tree agent {} is not built (cargo build -p ip-masq-agent)",
            agent.display()
        )
    })
}

/// A profile file in the temp dir, unique to this process.
pub fn write_profile(name: &str, body: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("masq-selftest-{}-{name}.yaml", std::process::id()));
    std::fs::write(&path, body).unwrap();
    path
}

/// A profile whose command is `argv` (each element quoted), plus `extra` lines.
pub fn profile_with(name: &str, argv: &[String], extra: &str) -> PathBuf {
    let command: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    write_profile(
        name,
        &format!("name: {name}\ncommand: [{}]\n{extra}", command.join(", ")),
    )
}

/// Runs the suite on the legacy backend with `args`; returns success and all output.
/// INSTA_UPDATE is removed from the environment: the suite's own default must hold.
pub fn run_suite(profile: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
        .current_dir(workspace())
        .env("IP_MASQ_AGENT_BIN", agent())
        .env_remove("INSTA_UPDATE")
        .args([
            "--implementation",
            profile.to_str().unwrap(),
            "--backend",
            "legacy",
        ])
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
