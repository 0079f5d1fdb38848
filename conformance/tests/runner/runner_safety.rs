//! Tests of the runner's safety: the guard, and that nothing outlives a case, a panic or
//! a SIGKILL (namespaces, processes, mounts). Each runs alone: they watch machine-wide
//! state.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{agent, workspace, write_profile, Group};
use masq_conformance::{guard, implementation, iptables, names, netns, topology::Sandbox};

/// This module's tests and what they need.
pub fn group() -> Group {
    Group {
        name: "runner_safety",
        what: "the runner self-tests",
        pure: vec![(
            "guard_refuses_the_initial_namespace_everywhere",
            guard_refuses_the_initial_namespace_everywhere,
        )],
        root: vec![
            (
                "guard_refuses_a_namespace_the_runner_did_not_create",
                guard_refuses_a_namespace_the_runner_did_not_create,
            ),
            (
                "a_panic_mid_case_leaves_nothing_behind",
                a_panic_mid_case_leaves_nothing_behind,
            ),
            (
                "a_run_killed_with_sigkill_is_swept_by_the_next",
                a_run_killed_with_sigkill_is_swept_by_the_next,
            ),
            (
                "a_process_that_leaves_the_node_namespace_dies_with_the_case",
                a_process_that_leaves_the_node_namespace_dies_with_the_case,
            ),
            (
                "a_killed_run_takes_escaped_processes_with_it",
                a_killed_run_takes_escaped_processes_with_it,
            ),
            (
                "a_named_namespace_made_by_the_implementation_never_reaches_the_host",
                a_named_namespace_made_by_the_implementation_never_reaches_the_host,
            ),
            (
                "the_sweep_kills_what_pins_a_stale_mount_namespace",
                the_sweep_kills_what_pins_a_stale_mount_namespace,
            ),
        ],
        missing: None,
        alone: true,
    }
}

pub fn namespaces_with(tag: &str) -> Vec<String> {
    std::fs::read_dir(names::NETNS_DIR)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(tag))
                .collect()
        })
        .unwrap_or_default()
}

/// Pids of processes whose network namespace is one of `names`.
pub fn processes_in(names: &[String]) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let inodes: Vec<u64> = names
        .iter()
        .filter_map(|n| std::fs::metadata(Path::new(names::NETNS_DIR).join(n)).ok())
        .map(|m| m.ino())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let ino = std::fs::metadata(e.path().join("ns/net")).ok()?.ino();
            inodes.contains(&ino).then_some(pid)
        })
        .collect()
}

pub fn pid_alive(pid: i32) -> bool {
    // A zombie still has /proc/<pid>; look at its state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
        .unwrap_or(false)
}

fn guard_refuses_the_initial_namespace_everywhere() {
    guard::init();
    let initial = File::open("/proc/self/ns/net").unwrap();
    assert!(matches!(
        guard::check(&initial),
        Err(guard::GuardError::InitialNamespace(_))
    ));
    assert!(netns::command_in(&initial, "true").is_err());
    assert!(netns::in_ns(&initial, || ()).is_err());
    let tables = iptables::NodeTables {
        ns: &initial,
        backend: masq_conformance::vocabulary::IptablesBackend::Legacy,
        lock_file: Path::new("/nonexistent"),
    };
    let err = tables
        .save_nat(masq_conformance::vocabulary::Family::V4)
        .unwrap_err();
    assert!(
        err.to_string().contains("initial network namespace"),
        "{err}"
    );

    let profile = implementation::Profile::new("x", vec!["true".into()]);
    let tmp = std::env::temp_dir();
    let err = implementation::Running::start(implementation::StartOptions {
        profile: &profile,
        node: &initial,
        backend: masq_conformance::vocabulary::IptablesBackend::Legacy,
        flags: &[],
        env: &[],
        log: None,
        volume: &tmp,
        scratch: &tmp,
        shim_dir: &tmp,
        lock_file: &tmp,
        tool_dir: None,
        limits: masq_conformance::limits::ChildLimits::rlimits_only(
            masq_conformance::limits::LimitSettings::DEFAULT,
        ),
    })
    .err()
    .expect("start in the initial namespace must be refused");
    assert!(
        err.to_string().contains("initial network namespace"),
        "{err}"
    );
}

fn guard_refuses_a_namespace_the_runner_did_not_create() {
    guard::init();
    // A namespace made by someone else (here: a child process's own unshare).
    let mut child = Command::new("unshare")
        .args(["--net", "sleep", "30"])
        .spawn()
        .unwrap();
    let path = format!("/proc/{}/ns/net", child.id());
    let deadline = Instant::now() + Duration::from_secs(5);
    let foreign = loop {
        let own = std::fs::metadata("/proc/self/ns/net").unwrap();
        if let Ok(m) = std::fs::metadata(&path) {
            use std::os::unix::fs::MetadataExt;
            if m.ino() != own.ino() {
                break File::open(&path).unwrap();
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for unshare to create its namespace"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let verdict = guard::check(&foreign);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        matches!(verdict, Err(guard::GuardError::NotRunnerCreated(_))),
        "{verdict:?}"
    );
}

fn a_panic_mid_case_leaves_nothing_behind() {
    guard::init();
    let (tag_tx, tag_rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        let sandbox = Sandbox::create(&[]).expect("sandbox");
        let mut cmd = netns::command_in(sandbox.node.file(), "sleep").unwrap();
        // Deliberately never waited for: the sandbox's Drop must kill it.
        #[allow(clippy::zombie_processes)]
        let child = cmd.arg("300").spawn().unwrap();
        tag_tx
            .send((
                sandbox.tag.clone(),
                sandbox.scratch.clone(),
                child.id() as i32,
            ))
            .unwrap();
        panic!("deliberate panic in the middle of a case");
    })
    .join();
    assert!(result.is_err(), "the case thread should have panicked");
    let (tag, scratch, pid) = tag_rx.recv().unwrap();
    assert!(
        namespaces_with(&tag).is_empty(),
        "namespaces left: {:?}",
        namespaces_with(&tag)
    );
    assert!(!scratch.exists(), "scratch dir left: {}", scratch.display());
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(pid) {
        assert!(
            Instant::now() < deadline,
            "process {pid} outlived its sandbox"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A fixture directory with one slow case, for killing the runner mid-case.
pub fn slow_fixture_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("runner-safety-slow-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("snapshots")).unwrap();
    std::fs::write(dir.join("slow.yaml"), SLOW_FIXTURE).unwrap();
    dir
}

/// The suite over [`slow_fixture_dir`]'s cases with the in-tree agent, two in flight,
/// started from the workspace as a user would: a run to interrupt or kill.
pub fn slow_run(fixtures: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_masq-conformance"));
    cmd.current_dir(workspace())
        .env("IP_MASQ_AGENT_BIN", agent())
        .args([
            "--fixtures",
            fixtures.to_str().unwrap(),
            "--test-threads",
            "2",
        ]);
    cmd
}

/// A case that waits long enough to be killed.
const SLOW_FIXTURE: &str = "description: waits long enough to be killed\nfeatures: [defaults]\nresync_interval: 10s\nsteps:\n  - config: null\n  - wait: rules\n  - wait: {unobservable-resyncs: 5}\n";

fn a_run_killed_with_sigkill_is_swept_by_the_next() {
    let bin = env!("CARGO_BIN_EXE_masq-conformance");
    let fixtures = slow_fixture_dir();
    // Killed at different moments: right after the namespaces exist, while the
    // implementations start, and while they run.
    for (round, delay_ms) in [0u64, 150, 600].into_iter().enumerate() {
        let mut run = slow_run(&fixtures)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let tag = format!("{}{}-", names::PREFIX, run.id());
        // Wait until both cases have their namespaces and a running implementation.
        let deadline = Instant::now() + Duration::from_secs(20);
        while namespaces_with(&tag).len() < 6 {
            assert!(
                Instant::now() < deadline,
                "round {round}: the runner never built its sandboxes"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // ...and until the implementations run inside them.
        let mut inside = Vec::new();
        while inside.len() < 2 {
            assert!(
                Instant::now() < deadline,
                "round {round}: no implementation started"
            );
            inside = processes_in(&namespaces_with(&tag));
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        run.kill().unwrap(); // SIGKILL: no Drop runs
        run.wait().unwrap();
        let left = namespaces_with(&tag);
        // At least the namespaces of the cases running when it was killed are left.
        assert!(
            !left.is_empty(),
            "round {round}: a SIGKILLed run cannot clean up, yet nothing is left"
        );

        let sweep = Command::new(bin).arg("sweep").output().unwrap();
        assert!(sweep.status.success());
        let report = String::from_utf8_lossy(&sweep.stdout);
        assert!(
            namespaces_with(&tag).is_empty(),
            "round {round}: sweep left {:?}",
            namespaces_with(&tag)
        );
        for ns in &left {
            assert!(
                report.contains(ns.as_str()),
                "round {round}: sweep report misses {ns}: {report}"
            );
        }
        let scratch_left: Vec<_> = std::fs::read_dir(names::scratch_root())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&tag))
            .collect();
        assert!(
            scratch_left.is_empty(),
            "round {round}: scratch dirs left: {scratch_left:?}"
        );
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let stale_mounts: Vec<&str> = mounts.lines().filter(|l| l.contains(&tag)).collect();
        assert!(
            stale_mounts.is_empty(),
            "round {round}: mounts left: {stale_mounts:?}"
        );
        // Processes already SIGKILLed (by PR_SET_PDEATHSIG or the sweep) may still be
        // finishing their exit in the kernel for a moment: allow them a bounded while.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut survivors: Vec<i32> = inside.clone();
        while !survivors.is_empty() && Instant::now() < deadline {
            survivors.retain(|p| pid_alive(*p));
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            survivors.is_empty(),
            "round {round}: processes survived the sweep: {:?}",
            survivors
                .iter()
                .map(|p| (
                    *p,
                    std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default(),
                    std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default()
                ))
                .collect::<Vec<_>>()
        );
    }
    std::fs::remove_dir_all(fixtures).unwrap();
}

/// The suite on the legacy backend, one filter.
pub fn run_suite(profile: &Path, filter: &str) -> (bool, String) {
    crate::common::run_suite(profile, &[filter])
}

/// A profile whose command is a shell script: `prelude`, then `exec AGENT "$@"` (the
/// case's flags). Returns the profile and the script, both to be removed by the caller.
pub fn wrapped_agent_profile(name: &str, prelude: &str) -> (PathBuf, PathBuf) {
    wrapped_agent_profile_with(name, prelude, "")
}

/// [`wrapped_agent_profile`] with `extra` profile lines.
pub fn wrapped_agent_profile_with(name: &str, prelude: &str, extra: &str) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let script =
        std::env::temp_dir().join(format!("runner-safety-{}-{name}.sh", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{prelude}\nexec {:?} \"$@\"\n",
            agent().display().to_string()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let profile = write_profile(
        name,
        &format!(
            "name: {name}\ncommand: [{:?}]\n{extra}",
            script.display().to_string()
        ),
    );
    (profile, script)
}

/// Pids of live processes whose argv is exactly `argv`.
pub fn processes_with_argv(argv: &[&str]) -> Vec<i32> {
    let wanted: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            (cmdline == wanted && pid_alive(pid)).then_some(pid)
        })
        .collect()
}

fn a_process_that_leaves_the_node_namespace_dies_with_the_case() {
    // A marker no other process on the machine has: `sleep <marker>`.
    let marker = (1_000_000_000u64 + u64::from(std::process::id())).to_string();
    // The sleep leaves the node namespace (so a kill by network namespace misses it).
    // Leaving it needs CAP_SYS_ADMIN, granted here so that the PID namespace is what is
    // tested (without it, `unshare -n` fails: conformance/tests/runner/hostile.rs).
    let (profile, script) = wrapped_agent_profile_with(
        "escape",
        // The pause leaves the watcher time to see the sleep on a loaded machine.
        &format!("unshare -n sleep {marker} &\nsleep 1"),
        "capabilities: [SYS_ADMIN]\n",
    );
    let watcher = std::thread::spawn({
        let marker = marker.clone();
        move || watch_for_pid_namespace_of(&marker)
    });
    let (ok, out) = run_suite(&profile, "default-no-config");
    let nspid = watcher.join().unwrap();
    let survivors = processes_with_argv(&["sleep", &marker]);
    for pid in &survivors {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    std::fs::remove_file(profile).unwrap();
    std::fs::remove_file(script).unwrap();
    assert!(ok, "the wrapped agent should pass:\n{out}");
    assert!(
        survivors.is_empty(),
        "processes outlived the case: sleep {marker} as {survivors:?}"
    );
    // It ran in a PID namespace of its own, below a runner-made init: the sleep's parent
    // (the script, which then became the agent) is pid 2 there.
    assert_eq!(nspid.as_deref(), Some("2"), "the implementation's own pid");
}

/// Waits (bounded) for `sleep <marker>` and returns its parent's pid as seen in the
/// innermost PID namespace (the last field of `NSpid`).
fn watch_for_pid_namespace_of(marker: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let nspid_of_parent = |pid: i32| -> Option<String> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))?
            .trim()
            .to_string();
        let parent = std::fs::read_to_string(format!("/proc/{ppid}/status")).ok()?;
        parent
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_string)
    };
    while Instant::now() < deadline {
        // A process found but gone before its status was read: keep looking.
        if let Some(found) = processes_with_argv(&["sleep", marker])
            .into_iter()
            .find_map(nspid_of_parent)
        {
            return Some(found);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn a_killed_run_takes_escaped_processes_with_it() {
    let marker = (3_000_000_000u64 + u64::from(std::process::id())).to_string();
    let (profile, script) = wrapped_agent_profile_with(
        "escape-killed",
        &format!("unshare -n sleep {marker} &"),
        "capabilities: [SYS_ADMIN]\n",
    );
    let fixtures =
        std::env::temp_dir().join(format!("runner-safety-slow-escape-{}", std::process::id()));
    std::fs::create_dir_all(fixtures.join("snapshots")).unwrap();
    std::fs::write(fixtures.join("slow.yaml"), SLOW_FIXTURE).unwrap();
    let mut run = Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
        .current_dir(workspace())
        .args([
            "--implementation",
            profile.to_str().unwrap(),
            "--fixtures",
            fixtures.to_str().unwrap(),
            "--backend",
            "legacy",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while processes_with_argv(&["sleep", &marker]).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = !processes_with_argv(&["sleep", &marker]).is_empty();
    run.kill().unwrap(); // SIGKILL: no Drop runs, no teardown
    run.wait().unwrap();
    // The implementation's init dies with the runner (PR_SET_PDEATHSIG), and its PID
    // namespace with it: no sweep is needed for the processes.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut survivors = processes_with_argv(&["sleep", &marker]);
    while !survivors.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        survivors = processes_with_argv(&["sleep", &marker]);
    }
    for pid in &survivors {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let sweep = Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
        .arg("sweep")
        .output()
        .unwrap();
    std::fs::remove_dir_all(fixtures).unwrap();
    std::fs::remove_file(profile).unwrap();
    std::fs::remove_file(script).unwrap();
    assert!(sweep.status.success(), "{sweep:?}");
    assert!(started, "the escaping process never started");
    assert!(
        survivors.is_empty(),
        "sleep {marker} outlived the killed runner as {survivors:?}"
    );
}

fn a_named_namespace_made_by_the_implementation_never_reaches_the_host() {
    let name = format!("mcnf-escape-test-{}", std::process::id());
    // `ip netns add` needs CAP_SYS_ADMIN (granted here: the private /run is tested); it
    // exits (failing the case) unless the namespace is listed inside.
    let (profile, script) = wrapped_agent_profile_with(
        "netns-add",
        &format!("ip netns add {name} && ip netns list | grep -q {name} || exit 3"),
        "capabilities: [SYS_ADMIN]\n",
    );
    let (ok, out) = run_suite(&profile, "default-no-config");
    let on_host = Path::new(names::NETNS_DIR).join(&name);
    let leaked = on_host.exists();
    if leaked {
        names::remove_named_namespace(&on_host);
    }
    std::fs::remove_file(profile).unwrap();
    std::fs::remove_file(script).unwrap();
    assert!(
        ok,
        "`ip netns add` did not work inside the sandbox (or the agent failed):\n{out}"
    );
    assert!(!leaked, "{} appeared on the host", on_host.display());
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(!list.contains(&name), "ip netns list shows {name}:\n{list}");
}

fn the_sweep_kills_what_pins_a_stale_mount_namespace() {
    // A scratch directory of a run that is gone (a pid that just exited)...
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let dir = names::scratch_root().join(format!("{}{}-0", names::PREFIX, gone.id()));
    std::fs::create_dir_all(dir.join("etc-upper")).unwrap();
    // ...still mounted in a private mount namespace by a process that is in no
    // runner-made network namespace (as if it had left `node`).
    let marker = (2_000_000_000u64 + u64::from(std::process::id())).to_string();
    let mut pinning = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs none {}/etc-upper && exec sleep {marker}",
            dir.display()
        ))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while processes_with_argv(&["sleep", &marker]).is_empty() {
        if Instant::now() > deadline || pinning.try_wait().unwrap().is_some() {
            let _ = pinning.kill();
            let _ = pinning.wait();
            let _ = std::fs::remove_dir_all(&dir);
            panic!("the pinning process did not start");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let sweep = Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
        .arg("sweep")
        .output()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = pinning.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = pinning.kill();
            let _ = pinning.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let dir_left = dir.exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(sweep.status.success(), "{sweep:?}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.and_then(|s| s.signal()),
        Some(9),
        "the sweep did not kill the process pinning {}: {}",
        dir.display(),
        String::from_utf8_lossy(&sweep.stdout)
    );
    assert!(!dir_left, "the sweep left {}", dir.display());
}
