//! The case's limits (conformance/src/limits.rs), cleanup on SIGINT and SIGTERM
//! (conformance/src/interrupt.rs) and private scratch directories (names.rs): a fork
//! bomb, a memory hog and an output flood each fail their case naming the limit, and
//! leave the host as it was; an interrupted run removes everything it made; a directory
//! planted at a predictable name is never used. Each runs alone: they watch machine-wide
//! state.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{agent, profile_with, suite_command, workspace, Group};
use crate::runner_safety::{namespaces_with, pid_alive, processes_in, slow_fixture_dir};
use masq_conformance::{limits, names, topology::Sandbox};
use nix::libc;

/// This module's tests and what they need.
pub fn group() -> Group {
    Group {
        name: "limits",
        what: "the runner self-tests",
        pure: vec![],
        root: vec![
            (
                "a_fork_bomb_fails_its_case_naming_the_pids_limit",
                a_fork_bomb_fails_its_case_naming_the_pids_limit,
            ),
            (
                "a_memory_hog_fails_its_case_naming_the_memory_limit",
                a_memory_hog_fails_its_case_naming_the_memory_limit,
            ),
            (
                "an_output_flood_fails_its_case_naming_the_output_limit",
                an_output_flood_fails_its_case_naming_the_output_limit,
            ),
            (
                "sigint_and_sigterm_remove_everything_the_run_made",
                sigint_and_sigterm_remove_everything_the_run_made,
            ),
            (
                "the_sweep_removes_a_dead_runs_cgroups_and_kills_what_is_inside",
                the_sweep_removes_a_dead_runs_cgroups_and_kills_what_is_inside,
            ),
            (
                "the_implementation_starts_with_no_signal_blocked_or_ignored",
                the_implementation_starts_with_no_signal_blocked_or_ignored,
            ),
            (
                "a_directory_planted_at_a_predictable_name_is_not_used",
                a_directory_planted_at_a_predictable_name_is_not_used,
            ),
        ],
        missing: None,
        alone: true,
    }
}

/// Runs the suite (legacy backend, `default-no-config`) against `masq-wrong-agent MODE
/// AGENT`: its pid, success, all it printed. Bounded: a hang fails the test.
fn run_hostile(mode: &str, extra: &str) -> (u32, bool, String) {
    let argv = [
        env!("CARGO_BIN_EXE_masq-wrong-agent").to_string(),
        mode.to_string(),
        agent().display().to_string(),
    ];
    let profile = profile_with(mode, &argv, extra);
    let out_path = std::env::temp_dir().join(format!("limits-{}-{mode}.out", std::process::id()));
    let out = std::fs::File::create(&out_path).unwrap();
    // The in-tree agent on the same cases, at the same time: the hostile one's limits
    // must keep it unaffected.
    let in_tree = workspace().join("conformance/implementations/ip-masq-agent-rs.yaml");
    let beside = std::thread::spawn(move || {
        crate::common::run_suite(&in_tree, &["default", "reload-latency"])
    });
    let mut child = suite_command(&profile)
        .args(["--backend", "legacy", "default-no-config"])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let pid = child.id();
    let status = wait_bounded(&mut child, Duration::from_secs(120));
    let (beside_ok, beside_out) = beside.join().unwrap();
    let text = String::from_utf8_lossy(&std::fs::read(&out_path).unwrap()).into_owned();
    std::fs::remove_file(out_path).unwrap();
    std::fs::remove_file(profile).unwrap();
    assert!(
        beside_ok && beside_out.contains(" passed, 0 failed") && !beside_out.contains(" 0 passed"),
        "{mode}: the concurrent run of the in-tree agent was affected:\n{beside_out}"
    );
    (pid, status.success(), text)
}

fn wait_bounded(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the runner {} did not end within {within:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Everything a run with pid `pid` made that is still there: namespaces, scratch
/// directories, cgroups, mounts.
fn left_by(pid: u32) -> Vec<String> {
    let tag = format!("{}{pid}-", names::PREFIX);
    let mut left: Vec<String> = namespaces_with(&tag);
    let mut dirs = vec![names::scratch_root()];
    dirs.extend(limits::cgroup_parents());
    for dir in dirs {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(&tag) {
                left.push(e.path().display().to_string());
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    left.extend(
        mounts
            .lines()
            .filter(|l| l.contains(&tag))
            .map(String::from),
    );
    left
}

/// Processes whose command line contains `needle`.
fn processes_mentioning(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (text.contains(needle) && pid_alive(pid)).then_some(pid)
        })
        .collect()
}

/// The last number that follows `prefix` in `text`.
fn last_number_after(text: &str, prefix: &str) -> Option<u64> {
    text.rmatch_indices(prefix).find_map(|(i, _)| {
        let digits: String = text[i + prefix.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

fn a_fork_bomb_fails_its_case_naming_the_pids_limit() {
    let (pid, ok, out) = run_hostile("hostile-fork-bomb", "");
    assert!(!ok, "a fork bomb must fail its case:\n{out}");
    assert!(
        out.contains("the implementation hit the case's pids limit (512)"),
        "the failure names the pids limit:\n{out}"
    );
    // The bomb says how far it got: never beyond the limit (itself and its init count).
    let forked = last_number_after(&out, "masq-wrong-agent: forked ")
        .expect("the bomb says how many it forked");
    assert!(forked <= 510, "it forked {forked} children past the limit");
    let peak = last_number_after(&out, "pids limit (512): ").expect("the peak");
    assert!(peak <= 512, "{peak} processes at once");
    let survivors = processes_mentioning("hostile-fork-bomb");
    assert!(survivors.is_empty(), "bomb processes left: {survivors:?}");
    let left = left_by(pid);
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn a_memory_hog_fails_its_case_naming_the_memory_limit() {
    // Listed as a known failure: a limit hit is never excused.
    let (pid, ok, out) = run_hostile(
        "hostile-memory-hog",
        "limits: {memory: 128Mi}\nexpected_failures: [{case: default-no-config, reason: excused?}]\n",
    );
    assert!(!ok, "a memory hog must fail its case:\n{out}");
    assert!(
        out.contains("the implementation hit the case's memory limit (128 MiB)"),
        "the failure names the memory limit:\n{out}"
    );
    let held = last_number_after(&out, "masq-wrong-agent: holding ").unwrap_or(0);
    assert!(held <= 128, "it held {held} MiB past the limit");
    let peak = last_number_after(&out, "memory limit (128 MiB): ").expect("the peak");
    assert!(peak <= 128, "{peak} MiB in use at once");
    assert!(!out.contains("no memory limit stopped it"), "{out}");
    assert!(processes_mentioning("hostile-memory-hog").is_empty());
    let left = left_by(pid);
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn an_output_flood_fails_its_case_naming_the_output_limit() {
    let (pid, ok, out) = run_hostile("hostile-output-flood", "limits: {output: 4Mi}\n");
    assert!(!ok, "an output flood must fail its case:\n{out}");
    assert!(
        out.contains("the implementation hit the case's output limit (4 MiB)"),
        "the failure names the output limit"
    );
    // The log's size as the runner saw it at the case's end.
    let kept = last_number_after(&out, "its output stopped at ").expect("the log's size");
    assert!(
        kept <= 4 << 20,
        "the log kept {kept} bytes, past the 4 MiB cap"
    );
    assert!(processes_mentioning("hostile-output-flood").is_empty());
    let left = left_by(pid);
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn sigint_and_sigterm_remove_everything_the_run_made() {
    let fixtures = slow_fixture_dir();
    for (signal, code) in [
        (nix::sys::signal::SIGINT, 130),
        (nix::sys::signal::SIGTERM, 143),
    ] {
        let out_path =
            std::env::temp_dir().join(format!("limits-{}-{signal}.out", std::process::id()));
        let out = std::fs::File::create(&out_path).unwrap();
        let mut run = crate::runner_safety::slow_run(&fixtures)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let tag = format!("{}{}-", names::PREFIX, run.id());
        // Mid-run: both cases built, their implementations running.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut inside = Vec::new();
        while namespaces_with(&tag).len() < 6 || inside.len() < 2 {
            assert!(
                Instant::now() < deadline,
                "{signal}: the run never got going"
            );
            std::thread::sleep(Duration::from_millis(20));
            inside = processes_in(&namespaces_with(&tag));
        }
        let before = left_by(run.id());
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(run.id() as i32), signal).unwrap();
        let status = wait_bounded(&mut run, Duration::from_secs(30));
        let text = std::fs::read_to_string(&out_path).unwrap();
        std::fs::remove_file(&out_path).unwrap();
        eprintln!(
            "{signal}: before: {} things of the run, e.g. {:?}",
            before.len(),
            &before[..3.min(before.len())]
        );
        eprintln!(
            "{signal}: exit {status}; it said:\n{}",
            text.lines()
                .filter(|l| l.contains(&signal.to_string()))
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert_eq!(status.code(), Some(code), "{signal}: exit status:\n{text}");
        assert!(
            text.contains(&format!(
                "masq-conformance: {signal}: removed 6 namespace(s)"
            )),
            "{signal}: says what it removed:\n{text}"
        );
        let left = left_by(run.id());
        assert!(left.is_empty(), "{signal}: left behind: {left:?}");
        let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
        let list = String::from_utf8_lossy(&list.stdout);
        assert!(!list.contains(&tag), "{signal}: ip netns list:\n{list}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while inside.iter().any(|p| pid_alive(*p)) {
            assert!(
                Instant::now() < deadline,
                "{signal}: processes survived: {inside:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::fs::remove_dir_all(fixtures).unwrap();
}

fn the_sweep_removes_a_dead_runs_cgroups_and_kills_what_is_inside() {
    // The limits of a case of a run that is gone (a pid that just exited), with a process
    // still inside, as if the run had been SIGKILLed mid-case.
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let tag = format!("{}{}-0", names::PREFIX, gone.id());
    let case = limits::CaseLimits::create(&tag, limits::LimitSettings::DEFAULT).unwrap();
    let dirs = case.cgroups().to_vec();
    if dirs.is_empty() {
        // rlimits only: nothing to sweep. Under CI=true a missing cgroup is a failure.
        assert!(
            !masq_conformance::prereq::required(),
            "no cgroup v1 or v2 here: the limits are rlimits only"
        );
        eprintln!("ignored: no cgroups on this machine");
        return;
    }
    let marker = (3_000_000_000u64 + u64::from(std::process::id())).to_string();
    let mut inside = Command::new("sleep").arg(&marker).spawn().unwrap();
    for dir in &dirs {
        std::fs::write(dir.join("cgroup.procs"), inside.id().to_string()).unwrap();
    }
    std::mem::forget(case); // a SIGKILLed run never drops it
    let sweep = Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
        .arg("sweep")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&sweep.stdout);
    let status = inside.wait().unwrap();
    assert!(sweep.status.success(), "{report}");
    for dir in &dirs {
        assert!(
            !dir.exists(),
            "{} survived the sweep: {report}",
            dir.display()
        );
        assert!(report.contains(&dir.display().to_string()), "{report}");
    }
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL),
        "the process inside was killed"
    );
}

fn the_implementation_starts_with_no_signal_blocked_or_ignored() {
    // The runner handles SIGINT and SIGTERM itself; none of that may reach the
    // implementation (a blocked SIGTERM would make every `terminate` step fail).
    let argv = [
        "grep".to_string(),
        "-E".into(),
        "^Sig(Blk|Ign)".into(),
        "/proc/self/status".into(),
    ];
    let profile = profile_with("signal-mask", &argv, "");
    let out = suite_command(&profile)
        .args(["--backend", "legacy", "default-no-config"])
        .output()
        .unwrap();
    std::fs::remove_file(profile).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SigBlk:\t0000000000000000"), "{text}");
    // SIGINT and SIGTERM not ignored (what else is ignored comes from whoever started
    // this test, not from the runner).
    let ignored = text
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:\t"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .expect("SigIgn");
    let int_term = (1 << (libc::SIGINT - 1)) | (1 << (libc::SIGTERM - 1));
    assert_eq!(ignored & int_term, 0, "{text}");
}

fn a_directory_planted_at_a_predictable_name_is_not_used() {
    // Before: a case's scratch was /tmp/mcnf-<pid>-<n>, and a directory planted there by
    // any user was used. Plant the next few such names, owned by nobody, world-writable.
    let me = std::process::id();
    let planted: Vec<PathBuf> = (0..8)
        .map(|n| names::scratch_root().join(format!("{}{me}-{n}", names::PREFIX)))
        .collect();
    for dir in &planted {
        std::fs::create_dir(dir).unwrap();
        std::os::unix::fs::chown(dir, Some(65534), Some(65534)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let sandbox = Sandbox::create(&[]).expect("sandbox");
    let scratch = sandbox.scratch.clone();
    let root = scratch.parent().unwrap().to_path_buf();
    let checks = || -> Result<(), String> {
        for dir in &planted {
            if scratch.starts_with(dir) {
                return Err(format!("the case used the planted {}", dir.display()));
            }
            if std::fs::read_dir(dir).unwrap().next().is_some() {
                return Err(format!(
                    "the runner wrote into the planted {}",
                    dir.display()
                ));
            }
        }
        let suffix = root
            .file_name()
            .unwrap()
            .to_string_lossy()
            .rsplit('-')
            .next()
            .unwrap()
            .to_string();
        if suffix.len() != 16 || !suffix.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "the run's root {} has no random suffix",
                root.display()
            ));
        }
        for dir in [&root, &scratch] {
            let meta = std::fs::symlink_metadata(dir).unwrap();
            if !meta.is_dir() || meta.mode() & 0o7777 != 0o700 || meta.uid() != 0 {
                return Err(format!(
                    "{} is mode {:o}, uid {}: not a private directory",
                    dir.display(),
                    meta.mode() & 0o7777,
                    meta.uid()
                ));
            }
        }
        Ok(())
    };
    let checked = checks();
    drop(sandbox);
    let gone = !scratch.exists();
    for dir in &planted {
        std::fs::remove_dir(dir).unwrap();
    }
    checked.unwrap();
    assert!(gone, "the case's scratch {} outlived it", scratch.display());
    assert!(Path::new(&root).is_dir());
}
