//! Helpers shared by the runner's self-tests: the harness of groups, and running the
//! suite as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::RwLock;

use libtest_mimic::{Arguments, Trial};
use masq_conformance::prereq::{self, PrereqAction};

/// A test of a self-test harness: a name and a body that panics on failure.
pub type Test = (&'static str, fn());

/// A group of self-tests with its prerequisites (one module of this harness).
pub struct Group {
    /// The module: the prefix of its tests' names.
    pub name: &'static str,
    /// Names the tests in messages ("the runner self-tests").
    pub what: &'static str,
    /// Tests that need nothing.
    pub pure: Vec<Test>,
    /// Tests that need root, iptables and the in-tree agent.
    pub root: Vec<Test>,
    /// A prerequisite of the group's own, missing here (nft, for example).
    pub missing: Option<String>,
    /// Its tests watch machine-wide state (namespaces, processes, a sweep) that another
    /// test's run would disturb (a suite run sweeps the leftovers of a killed run that a
    /// test is about to look at): each runs while no other test does.
    pub alone: bool,
}

/// Held shared by every test, and exclusively by a test of a group run `alone`.
static MACHINE: RwLock<()> = RwLock::new(());

/// Runs every group's `pure` tests always and its `root` tests when their prerequisites
/// are there: otherwise those are reported as ignored with the reason, and under
/// `CI=true` the run fails instead.
pub fn run_groups(groups: Vec<Group>) -> ExitCode {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for group in groups {
        let missing = group.missing.clone().or_else(missing_prerequisite);
        let ignore = match prereq::action(missing) {
            PrereqAction::Run => false,
            PrereqAction::Ignore(why) => {
                eprintln!("ignored: {} that need root: {why}", group.what);
                true
            }
            PrereqAction::Fail(why) if !args.list => {
                eprintln!("error: {} cannot run: {why}", group.what);
                return ExitCode::FAILURE;
            }
            PrereqAction::Fail(_) => true,
        };
        let alone = group.alone;
        let trial = |(name, f): Test| {
            Trial::test(format!("{}::{name}", group.name), move || {
                let (_alone, _shared);
                if alone {
                    _alone = MACHINE.write().unwrap_or_else(|p| p.into_inner());
                } else {
                    _shared = MACHINE.read().unwrap_or_else(|p| p.into_inner());
                }
                f();
                Ok(())
            })
        };
        trials.extend(group.pure.into_iter().map(trial));
        trials.extend(
            group
                .root
                .into_iter()
                .map(|t| trial(t).with_ignored_flag(ignore)),
        );
    }
    masq_conformance::guard::init();
    let conclusion = libtest_mimic::run(&args, trials);
    // The scratch root the in-process sandboxes made (the cases removed their own).
    masq_conformance::names::remove_run_scratch();
    conclusion.exit_code()
}

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
    // A harness sets this for a prerequisite of its own (nft, for example).
    if let Ok(why) = std::env::var("MASQ_SELFTEST_MISSING") {
        return Some(why);
    }
    if let Some(why) =
        masq_conformance::suite::unavailable(&masq_conformance::vocabulary::IptablesBackend::ALL)
    {
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

/// The suite against `profile`, started as a user would from the workspace, with the
/// in-tree agent where the profile refers to it and no INSTA_UPDATE (the suite's own
/// read-only default must hold).
pub fn suite_command(profile: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_masq-conformance"));
    cmd.current_dir(workspace())
        .env("IP_MASQ_AGENT_BIN", agent())
        .env_remove("INSTA_UPDATE")
        .arg("--implementation")
        .arg(profile);
    cmd
}

/// Whether a run succeeded, and all it printed.
pub fn success_and_text(out: &std::process::Output) -> (bool, String) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs the suite on the legacy backend with `args`; returns success and all output.
pub fn run_suite(profile: &Path, args: &[&str]) -> (bool, String) {
    run_suite_on(profile, "legacy", args)
}

/// Runs the suite on `backend` with `args`; returns success and all output.
pub fn run_suite_on(profile: &Path, backend: &str, args: &[&str]) -> (bool, String) {
    let out = suite_command(profile)
        .args(["--backend", backend])
        .args(args)
        .output()
        .unwrap();
    success_and_text(&out)
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
