//! A wrong implementation fails the suite for the right reason, and what it does to the
//! runner (an output flood, bytes that are not UTF-8, a death by signal) is reported as
//! its own. Each runs alone, as the runner's safety tests do.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::{agent, write_profile, Group};
use crate::runner_safety::{run_suite, wrapped_agent_profile};

/// This module's tests and what they need.
pub fn group() -> Group {
    Group {
        name: "wrong_implementations",
        what: "the runner self-tests",
        pure: vec![],
        root: vec![
            (
                "an_implementation_that_masquerades_everything_fails_on_the_right_destinations",
                an_implementation_that_masquerades_everything_fails_on_the_right_destinations,
            ),
            (
                "an_implementation_that_never_reads_the_config_fails",
                an_implementation_that_never_reads_the_config_fails,
            ),
            (
                "expected_failures_ratchet_both_ways",
                expected_failures_ratchet_both_ways,
            ),
            (
                "an_output_flood_keeps_the_runner_small",
                an_output_flood_keeps_the_runner_small,
            ),
            (
                "output_that_is_not_utf8_is_still_shown",
                output_that_is_not_utf8_is_still_shown,
            ),
            (
                "a_death_by_signal_is_reported_as_the_implementations_own",
                a_death_by_signal_is_reported_as_the_implementations_own,
            ),
        ],
        missing: None,
        alone: true,
    }
}

/// A profile for the deliberately wrong implementation that masquerades everything.
fn masquerade_everything_profile(name: &str, extra: &str) -> PathBuf {
    write_profile(
        name,
        &format!(
            "name: masquerade-everything\ncommand: [{:?}, masquerade-everything]\n{extra}",
            env!("CARGO_BIN_EXE_masq-wrong-agent")
        ),
    )
}

/// A profile for the in-tree agent with `extra` lines.
fn agent_profile(name: &str, extra: &str) -> PathBuf {
    write_profile(
        name,
        &format!(
            "name: {name}\ncommand: [{:?}]\n{extra}",
            agent().display().to_string()
        ),
    )
}

fn an_implementation_that_masquerades_everything_fails_on_the_right_destinations() {
    let profile = masquerade_everything_profile("masq-all", "");
    let (ok, out) = run_suite(&profile, "default-no-config");
    assert!(!ok, "the suite passed a wrong implementation:\n{out}");
    // The failure names the step and the RFC 1918 destination whose outcome changed,
    // and marks the differing cells in the side-by-side tables.
    assert!(
        out.contains("step 4 (snapshot): rfc1918-10/udp expected not-masqueraded, got masqueraded"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("rfc1918-10") && l.contains("| masqueraded*")),
        "{out}"
    );
    std::fs::remove_file(profile).unwrap();
}

fn an_implementation_that_never_reads_the_config_fails() {
    // The in-tree agent, but the runner publishes the config somewhere it never looks:
    // it keeps running on defaults.
    let profile = agent_profile("deaf-agent", "config_path: /etc/elsewhere/ip-masq-agent\n");
    let (ok, out) = run_suite(&profile, "docs-example-config");
    assert!(
        !ok,
        "the suite passed an implementation that ignores its config:\n{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("rfc1918-172") && l.contains("| not-masqueraded*")),
        "{out}"
    );
    std::fs::remove_file(profile).unwrap();
}

fn expected_failures_ratchet_both_ways() {
    let listed = masquerade_everything_profile("xfail", "expected_failures: [default-no-config]\n");
    let (ok, out) = run_suite(&listed, "default-no-config");
    assert!(ok, "a listed failure must not fail the run:\n{out}");
    assert!(out.contains("known failure"), "{out}");

    let stale = agent_profile("in-tree", "expected_failures: [default-no-config]\n");
    let (ok, out) = run_suite(&stale, "default-no-config");
    assert!(!ok, "a listed case that passes must fail the run:\n{out}");
    assert!(out.contains("remove it from the list"), "{out}");
    std::fs::remove_file(listed).unwrap();
    std::fs::remove_file(stale).unwrap();

    // A case the corpus changed (CHANGELOG.md): a profile written before that change
    // is told which change explains the pass; one written for the current suite is not.
    let before = agent_profile("before-0.1.0", "expected_failures: [flag-masq-chain]\n");
    let (ok, out) = run_suite(&before, "flag-masq-chain");
    assert!(!ok, "{out}");
    assert!(
        out.contains("the corpus changed since suite 0.0.0")
            && out.contains("0.1.0: the config sets nonMasqueradeCIDRs explicitly"),
        "{out}"
    );
    let current = agent_profile(
        "for-0.1.0",
        "suite_version: 0.1.0\nexpected_failures: [flag-masq-chain]\n",
    );
    let (ok, out) = run_suite(&current, "flag-masq-chain");
    assert!(!ok, "{out}");
    assert!(
        out.contains("remove it from the list") && !out.contains("the corpus changed"),
        "{out}"
    );
    std::fs::remove_file(before).unwrap();
    std::fs::remove_file(current).unwrap();
}

/// Runs the suite like [`run_suite`] and also returns the runner's `VmHWM` (its peak
/// resident set size, in KiB), read from `/proc/<pid>/status` as it exits: the runner is
/// traced with `PTRACE_O_TRACEEXIT`, which stops it at its exit while its memory still
/// exists. (wait4's `ru_maxrss` would not do: it counts this harness's memory, which the
/// child holds until its exec.)
fn run_suite_measured(profile: &Path, filter: &str) -> (bool, String, u64) {
    use nix::libc;
    let out_path =
        std::env::temp_dir().join(format!("runner-safety-{}-output", std::process::id()));
    let out_file = File::create(&out_path).unwrap();
    // Reaped by waitpid below (std's Child cannot wait for a traced process).
    #[allow(clippy::zombie_processes)]
    let child = crate::common::suite_command(profile)
        .args(["--backend", "legacy", filter])
        .stdin(Stdio::null())
        .stdout(out_file.try_clone().unwrap())
        .stderr(out_file)
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let none = std::ptr::null_mut::<libc::c_void>();
    // SAFETY: ptrace and waitpid on our own child, with valid pointers.
    let seized = unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            pid,
            none,
            libc::PTRACE_O_TRACEEXIT as usize as *mut libc::c_void,
        )
    };
    assert_eq!(seized, 0, "ptrace: {}", std::io::Error::last_os_error());
    let mut vm_hwm_kib = None;
    // The runner bounds every wait of its own; this loop ends when it exits.
    let status = loop {
        let mut status = 0;
        // SAFETY: as above.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        assert_eq!(waited, pid, "waitpid: {}", std::io::Error::last_os_error());
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            break status;
        }
        let event = (status >> 16) & 0xffff;
        let mut deliver = 0;
        if event == libc::PTRACE_EVENT_EXIT {
            let proc_status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            vm_hwm_kib = proc_status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
        } else if event == 0 {
            // A signal on its way to the runner: let it through.
            deliver = libc::WSTOPSIG(status);
        }
        // SAFETY: as above.
        unsafe {
            libc::ptrace(
                libc::PTRACE_CONT,
                pid,
                none,
                deliver as usize as *mut libc::c_void,
            )
        };
    };
    let text = String::from_utf8_lossy(&std::fs::read(&out_path).unwrap()).into_owned();
    std::fs::remove_file(&out_path).unwrap();
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let vm_hwm_kib = vm_hwm_kib.expect("VmHWM of the runner at its exit");
    (ok, text, vm_hwm_kib)
}

fn an_output_flood_keeps_the_runner_small() {
    let (profile, script) =
        wrapped_agent_profile("flood", "head -c 200000000 /dev/zero | tr '\\0' x");
    let (_ok, out, max_rss_kib) = run_suite_measured(&profile, "default-no-config");
    std::fs::remove_file(profile).unwrap();
    std::fs::remove_file(script).unwrap();
    eprintln!("the runner's VmHWM after 200 MB of output: {max_rss_kib} KiB");
    // Whether the case passes depends on how fast 200 MB go through a pipe here; what
    // matters is that the runner never holds them.
    assert!(
        max_rss_kib < 100 * 1024,
        "the runner's VmHWM was {max_rss_kib} KiB after 200 MB of output:\n{}",
        &out[out.len().saturating_sub(2000)..]
    );
}

fn output_that_is_not_utf8_is_still_shown() {
    let (profile, script) = wrapped_agent_profile(
        "not-utf8",
        "printf 'before-marker \\377 after-marker\\n'\nexit 7",
    );
    let (ok, out) = run_suite(&profile, "default-no-config");
    std::fs::remove_file(profile).unwrap();
    std::fs::remove_file(script).unwrap();
    assert!(
        !ok,
        "an implementation that exits at once must fail:\n{out}"
    );
    assert!(
        out.contains("exit status: 7"),
        "the real exit status:\n{out}"
    );
    assert!(
        out.contains("before-marker \u{fffd} after-marker"),
        "the output around the invalid byte:\n{out}"
    );
}

fn a_death_by_signal_is_reported_as_the_implementations_own() {
    // Its init (pid 1 of its PID namespace) cannot die of a signal it sends itself; the
    // report must still name the implementation's death, not the init's exit.
    let (profile, script) = wrapped_agent_profile("suicide", "kill -USR1 $$");
    let (ok, out) = run_suite(&profile, "default-no-config");
    std::fs::remove_file(profile).unwrap();
    std::fs::remove_file(script).unwrap();
    assert!(!ok, "an implementation that dies at once must fail:\n{out}");
    assert!(
        out.contains("the implementation exited (signal: 10"),
        "the signal that killed it:\n{out}"
    );
}
