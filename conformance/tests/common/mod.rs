//! Helpers shared by the runner's self-test harnesses.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use libtest_mimic::{Arguments, Trial};
use masq_conformance::prereq::{self, Verdict};

/// A test of a self-test harness: a name and a body that panics on failure.
pub type Test = (&'static str, fn());

/// Runs `pure` tests always and `root` tests when root, iptables and the agent are there:
/// otherwise the root tests are reported as ignored with the reason, and under `CI=true`
/// the run fails instead. `what` names the tests in those messages.
pub fn run_harness(what: &str, pure: Vec<Test>, root: Vec<Test>) -> ExitCode {
    run_harness_with(what, pure, root, false)
}

/// [`run_harness`], one test at a time when `serial`: for tests that watch machine-wide
/// state (namespaces, processes, a sweep), which another test's run would disturb — a
/// suite run sweeps the leftovers of a killed run that a test is about to look at.
pub fn run_harness_with(what: &str, pure: Vec<Test>, root: Vec<Test>, serial: bool) -> ExitCode {
    run_harness_waiting(what, pure, root, serial, Vec::new())
}

/// A root test that waits for something not in this tree yet (fixtures another branch
/// adds): `Some(reason)` reports it as ignored with that reason, `None` runs it.
pub type Waiting = (&'static str, fn(), Option<String>);

/// [`run_harness_with`], plus root tests that may be waiting (see [`Waiting`]).
pub fn run_harness_waiting(
    what: &str,
    pure: Vec<Test>,
    root: Vec<Test>,
    serial: bool,
    waiting: Vec<Waiting>,
) -> ExitCode {
    let mut args = Arguments::from_args();
    if serial && args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    let ignore = match prereq::verdict(missing_prerequisite()) {
        Verdict::Run => false,
        Verdict::Ignore(why) => {
            eprintln!("ignored: {what} that need root: {why}");
            true
        }
        Verdict::Fail(why) if !args.list => {
            eprintln!("error: {what} cannot run: {why}");
            return ExitCode::FAILURE;
        }
        Verdict::Fail(_) => true,
    };
    masq_conformance::guard::init();
    let trial = |(name, f): Test| {
        Trial::test(name, move || {
            f();
            Ok(())
        })
    };
    let waiting = waiting.into_iter().map(|(name, f, why)| {
        Trial::ignorable_test(name, move || match &why {
            Some(reason) => Ok(libtest_mimic::Completion::ignored_with(reason)),
            None => {
                f();
                Ok(libtest_mimic::Completion::Completed)
            }
        })
        .with_ignored_flag(ignore)
    });
    let trials = pure
        .into_iter()
        .map(trial)
        .chain(root.into_iter().map(|t| trial(t).with_ignored_flag(ignore)))
        .chain(waiting)
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
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
