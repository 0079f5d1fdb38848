//! Fixture and profile files are regular files under a bound (conformance/src/bounded_file.rs):
//! `/dev/zero` as a profile exhausted memory, a FIFO among the fixtures hung `--list`.
//! Each is refused promptly, naming the file. Nothing here needs root: `--list` builds
//! no sandbox.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a run with `args` printed on stderr, and whether it succeeded; fails the test if
/// it takes longer than a few seconds (a hang is the bug).
fn run_bounded(args: &[&str]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_masq-conformance"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("masq-conformance {args:?} still running after 20s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    use std::io::Read as _;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.success(), err)
}

const PROFILE: &str = "conformance/implementations/ip-masq-agent-rs.yaml";

#[test]
fn dev_zero_as_a_profile_is_refused_naming_it() {
    let (ok, err) = run_bounded(&["--implementation", "/dev/zero", "--list"]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("/dev/zero") && err.contains("not a regular file but a character device"),
        "{err}"
    );
}

#[test]
fn an_oversized_profile_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    let mut text = String::from("name: big\ncommand: [\"true\"]\n");
    while text.len() <= 1 << 20 {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&big, text).unwrap();
    let (ok, err) = run_bounded(&["--implementation", big.to_str().unwrap(), "--list"]);
    assert!(!ok, "{err}");
    assert!(
        err.contains(big.to_str().unwrap()) && err.contains("larger than 1048576 bytes"),
        "{err}"
    );
}

#[test]
fn a_fifo_among_the_fixtures_is_refused_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("hangs.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (ok, err) = run_bounded(&[
        "--implementation",
        PROFILE,
        "--fixtures",
        dir.path().to_str().unwrap(),
        "--list",
    ]);
    assert!(!ok, "{err}");
    assert!(
        err.contains(fifo.to_str().unwrap()) && err.contains("not a regular file but a FIFO"),
        "{err}"
    );
}

#[test]
fn a_directory_or_device_named_like_a_fixture_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a-directory.yaml");
    std::fs::create_dir(&sub).unwrap();
    let (ok, err) = run_bounded(&[
        "--implementation",
        PROFILE,
        "--fixtures",
        dir.path().to_str().unwrap(),
        "--list",
    ]);
    assert!(!ok, "{err}");
    assert!(
        err.contains(sub.to_str().unwrap()) && err.contains("not a regular file but a directory"),
        "{err}"
    );
    std::fs::remove_dir(&sub).unwrap();
    let device = dir.path().join("zero.yaml");
    std::os::unix::fs::symlink("/dev/zero", &device).unwrap();
    let (ok, err) = run_bounded(&[
        "--implementation",
        PROFILE,
        "--fixtures",
        dir.path().to_str().unwrap(),
        "--list",
    ]);
    assert!(!ok, "{err}");
    assert!(
        err.contains(device.to_str().unwrap()) && err.contains("a character device"),
        "{err}"
    );
}

#[test]
fn fixtures_reached_through_a_symlinked_directory_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::copy(
        workspace.join("fixtures/default-no-config.yaml"),
        real.join("default-no-config.yaml"),
    )
    .unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (ok, err) = run_bounded(&[
        "--implementation",
        PROFILE,
        "--fixtures",
        link.to_str().unwrap(),
        "--list",
    ]);
    assert!(ok, "{err}");
}

#[test]
fn bad_limits_in_a_profile_are_refused_naming_key_and_value() {
    let dir = tempfile::tempdir().unwrap();
    for (limits, wanted) in [
        (
            "{memory: lots}",
            "limits: memory: \"lots\" is not a number of bytes",
        ),
        ("{pids: 2}", "limits: pids: 2 is too few (at least 8)"),
        ("{cpu: 1}", "cpu"),
    ] {
        let path = dir.path().join("limits.yaml");
        std::fs::write(
            &path,
            format!("name: x\ncommand: [\"true\"]\nlimits: {limits}\n"),
        )
        .unwrap();
        let (ok, err) = run_bounded(&["--implementation", path.to_str().unwrap(), "--list"]);
        assert!(!ok, "{limits}: {err}");
        assert!(
            err.contains(path.to_str().unwrap()) && err.contains(wanted),
            "{limits}: {err}"
        );
    }
}
