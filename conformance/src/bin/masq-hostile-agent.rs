//! A hostile "implementation" for the sandbox's self-tests
//! (conformance/tests/runner/hostile.rs; docs/threat-model.md lists the attacks).
//!
//! `masq-hostile-agent MARKER masquerade-everything | AGENT ARGS...`: first tries every
//! escape the threat model names (leaving the sandbox, reaching the runner, writing the
//! host, the checkout, the snapshots, the ConfigMap or the shims, naming namespaces on the
//! host, changing the kernel), printing one line per attack: `blocked: ...` or
//! `ESCAPED: ...`. If any attack escaped it exits 99, so its case fails with these lines
//! in the log. Otherwise it behaves: as `masquerade-everything` (one MASQUERADE rule,
//! which must never pass) or by exec'ing `AGENT ARGS...` (which should pass, proving the
//! attacks neither escaped nor broke the case). Writes that are allowed inside the
//! sandbox (its private `/tmp`, its overlaid `/etc`) name MARKER, so the test can check
//! that none reached the host. An attack that would do damage if it succeeded only
//! opens for writing and writes nothing.
//!
//! It only ever runs as the implementation under test, inside the runner's sandbox.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use nix::libc;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

/// The tally of attacks.
#[derive(Default)]
struct Attacks {
    tried: usize,
    escaped: Vec<String>,
}

impl Attacks {
    /// Records one attack: `Ok(what)` means it worked (an escape), `Err(why)` that it was
    /// stopped.
    fn record(&mut self, name: &str, outcome: Result<String, String>) {
        self.tried += 1;
        match outcome {
            Ok(what) => {
                eprintln!("masq-hostile-agent: ESCAPED: {name}: {what}");
                self.escaped.push(name.to_string());
            }
            Err(why) => eprintln!("masq-hostile-agent: blocked: {name}: {why}"),
        }
    }
}

fn errno<T>(r: nix::Result<T>, what: &str) -> Result<String, String> {
    match r {
        Ok(_) => Ok(what.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn io<T>(r: std::io::Result<T>, what: &str) -> Result<String, String> {
    match r {
        Ok(_) => Ok(what.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Opening for writing is the escape; nothing is written.
fn open_for_writing(path: &Path) -> Result<String, String> {
    io(
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(path),
        &format!("opened {} for writing", path.display()),
    )
}

fn status_field(name: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

fn attack_privileges(a: &mut Attacks) {
    let cap_eff = status_field("CapEff:");
    let caps = match cap_eff.as_str() {
        "0000000000003000" => Err(format!("CapEff {cap_eff} (NET_ADMIN, NET_RAW)")),
        other => Ok(format!("CapEff {other}")),
    };
    a.record("capabilities beyond NET_ADMIN and NET_RAW", caps);
    let nnp = status_field("NoNewPrivs:");
    a.record(
        "no_new_privs unset",
        if nnp == "1" {
            Err("NoNewPrivs 1".into())
        } else {
            Ok(format!("NoNewPrivs {nnp}"))
        },
    );
    // EPERM without CAP_SYS_MODULE (ENOSYS: a kernel without modules); EBADF would mean
    // the capability check passed.
    // SAFETY: a raw system call on a constant string.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, -1, c"".as_ptr(), 0) };
    let err = std::io::Error::last_os_error();
    a.record(
        "load a kernel module",
        if rc != 0 && matches!(err.raw_os_error(), Some(libc::EPERM | libc::ENOSYS)) {
            Err(err.to_string())
        } else {
            Ok(format!(
                "finit_module got past the capability check ({err})"
            ))
        },
    );
    a.record(
        "change the hostname",
        errno(nix::unistd::sethostname("masq-hostile"), "hostname set"),
    );
    a.record(
        "make a block device",
        errno(
            nix::sys::stat::mknod(
                "/tmp/masq-hostile-sda",
                nix::sys::stat::SFlag::S_IFBLK,
                nix::sys::stat::Mode::from_bits_truncate(0o600),
                nix::sys::stat::makedev(8, 0),
            ),
            "made /tmp/masq-hostile-sda (8:0)",
        ),
    );
}

fn attack_mounts(a: &mut Attacks) {
    for target in [
        "/proc",
        "/etc",
        "/run/netns",
        "/run",
        "/tmp",
        "/etc/config",
        "/",
    ] {
        a.record(
            &format!("umount -l {target}"),
            errno(umount2(target, MntFlags::MNT_DETACH), "unmounted"),
        );
    }
    a.record(
        "remount / read-write",
        errno(
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REMOUNT | MsFlags::MS_BIND,
                None::<&str>,
            ),
            "remounted",
        ),
    );
    a.record(
        "mount a tmpfs over /etc/config",
        errno(
            mount(
                Some("tmpfs"),
                "/etc/config",
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            ),
            "mounted",
        ),
    );
}

fn attack_namespaces(a: &mut Attacks) {
    for ns in ["net", "mnt", "pid", "uts"] {
        let path = format!("/proc/1/ns/{ns}");
        let outcome = match std::fs::File::open(&path) {
            Ok(f) => errno(setns(f, CloneFlags::empty()), "entered"),
            Err(e) => Err(e.to_string()),
        };
        a.record(&format!("setns {path}"), outcome);
    }
    a.record(
        "unshare a network namespace",
        errno(unshare(CloneFlags::CLONE_NEWNET), "unshared"),
    );
    let out = Command::new("ip")
        .args(["netns", "add", "masq-hostile-netns"])
        .output();
    a.record(
        "ip netns add",
        match out {
            Ok(o) if o.status.success() => Ok("named a namespace".into()),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
            Err(e) => Err(e.to_string()),
        },
    );
    let others: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    a.record(
        "find other runs' namespaces in /run/netns",
        if others.is_empty() {
            Err("/run/netns is empty".into())
        } else {
            Ok(format!("sees {others:?}"))
        },
    );
}

fn attack_runner(a: &mut Attacks) {
    let me = std::process::id();
    let mut seen = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        // Pid 1 is its init: a fork of the runner that never execs, so it carries the
        // runner's command line, but it is no way out (its memory, ptrace: below).
        if pid != me && pid != 1 && (text.contains("masq-conformance") || text.contains("runner-"))
        {
            seen.push(format!("{pid}: {text}"));
        }
    }
    a.record(
        "find the runner's process",
        if seen.is_empty() {
            Err(format!(
                "parent is pid {}",
                std::os::unix::process::parent_id()
            ))
        } else {
            Ok(format!("sees {seen:?}"))
        },
    );
    a.record(
        "open its init's memory read-write",
        io(
            OpenOptions::new()
                .read(true)
                .write(true)
                .open("/proc/1/mem"),
            "opened /proc/1/mem",
        ),
    );
    // SAFETY: a raw system call with integer arguments.
    let rc = unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_SEIZE, 1, 0, 0) };
    a.record(
        "ptrace its init",
        if rc == 0 {
            Ok("seized pid 1".into())
        } else {
            Err(std::io::Error::last_os_error().to_string())
        },
    );
}

fn attack_files(a: &mut Attacks, marker: &str) {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let planted = cwd.join(format!("masq-hostile-{marker}"));
    a.record(
        "create a file in the working directory (the checkout)",
        io(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&planted),
            &format!("created {}", planted.display()),
        ),
    );
    let snapshots: Vec<PathBuf> = std::fs::read_dir(cwd.join("fixtures/snapshots"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .take(3)
        .collect();
    eprintln!(
        "masq-hostile-agent: {} snapshots found under {} (reading them is allowed)",
        snapshots.len(),
        cwd.display()
    );
    for snap in &snapshots {
        a.record("rewrite a snapshot", open_for_writing(snap));
    }
    a.record(
        "rewrite the config it was given",
        open_for_writing(Path::new("/etc/config/ip-masq-agent")),
    );
    a.record(
        "re-point the ConfigMap's ..data",
        io(
            std::os::unix::fs::symlink("/etc", "/etc/config/..masq-hostile"),
            "made a link in the volume",
        ),
    );
    let shim_dir = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .next()
        .map(PathBuf::from)
        .unwrap_or_default();
    a.record(
        "plant a tool in its PATH shims",
        io(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(shim_dir.join("masq-hostile-tool")),
            &format!("created a file in {}", shim_dir.display()),
        ),
    );
    let log = shim_dir.with_file_name("implementation.log");
    a.record("reopen its log by path for writing", open_for_writing(&log));
    a.record(
        "replace its log with a FIFO",
        errno(
            nix::unistd::mkfifo(
                &shim_dir.with_file_name("masq-hostile-fifo"),
                nix::sys::stat::Mode::from_bits_truncate(0o600),
            ),
            "made a FIFO beside the log",
        ),
    );
    for knob in [
        "/proc/sysrq-trigger",
        "/proc/sys/kernel/hostname",
        "/proc/sys/vm/drop_caches",
    ] {
        a.record(&format!("write {knob}"), open_for_writing(Path::new(knob)));
    }
    a.record(
        "open the host's disk",
        open_for_writing(Path::new("/dev/sda")),
    );
    // Allowed inside, invisible outside: the test checks the host for these.
    for private in ["/etc", "/tmp"] {
        let path = Path::new(private).join(format!("masq-hostile-{marker}"));
        let _ = std::fs::write(&path, marker);
    }
}

fn masquerade_everything() -> ! {
    let status = Command::new("iptables")
        .args([
            "-w",
            "5",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-j",
            "MASQUERADE",
        ])
        .status();
    eprintln!("masq-hostile-agent: masquerading everything ({status:?})");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: masq-hostile-agent MARKER masquerade-everything | AGENT ARGS...");
        return ExitCode::from(2);
    }
    let marker = &args[0];
    let mut attacks = Attacks::default();
    attack_privileges(&mut attacks);
    attack_mounts(&mut attacks);
    attack_namespaces(&mut attacks);
    attack_runner(&mut attacks);
    attack_files(&mut attacks, marker);
    eprintln!(
        "masq-hostile-agent: {} attacks, {} escaped{}",
        attacks.tried,
        attacks.escaped.len(),
        if attacks.escaped.is_empty() {
            String::new()
        } else {
            format!(": {:?}", attacks.escaped)
        }
    );
    if !attacks.escaped.is_empty() {
        return ExitCode::from(99);
    }
    if args[1] == "masquerade-everything" {
        masquerade_everything();
    }
    let err = Command::new(&args[1]).args(&args[2..]).exec();
    eprintln!("masq-hostile-agent: exec {}: {err}", args[1]);
    ExitCode::from(127)
}
