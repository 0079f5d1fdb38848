//! What every case needs: a fresh network namespace per backend, the agent, iptables.
//!
//! Isolation: a dedicated thread calls `unshare(CLONE_NEWNET)` (network namespaces are per
//! thread) and spawns every command from that thread, so children inherit the namespace;
//! it disappears when the thread and its children are gone. A guard refuses to run any
//! command unless the thread's namespace differs from both PID 1's and the process's
//! main thread's.

use nix::sched::{unshare, CloneFlags};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const AGENT: &str = env!("CARGO_BIN_EXE_ip-masq-agent");
pub const BACKENDS: [(&str, &str); 2] = [
    ("legacy", "/usr/sbin/xtables-legacy-multi"),
    ("nft", "/usr/sbin/xtables-nft-multi"),
];
pub const TOOLS: [&str; 6] = [
    "iptables",
    "iptables-save",
    "iptables-restore",
    "ip6tables",
    "ip6tables-save",
    "ip6tables-restore",
];
pub const LOCAL: &str = "ip-masq-agent: local traffic is not subject to MASQUERADE";
pub const OUTBOUND: &str =
    "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)";

pub fn netns_inode(path: &str) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {path}: {e}"))
        .ino()
}

/// True when this thread's network namespace is neither the main thread's nor PID 1's
/// (PID 1's is compared only where it is visible: a container may hide it).
pub fn thread_is_isolated() -> bool {
    let mine = netns_inode("/proc/thread-self/ns/net");
    let pid1 = std::fs::metadata("/proc/1/ns/net").ok().map(|m| m.ino());
    mine != netns_inode("/proc/self/ns/net") && pid1 != Some(mine)
}

/// Where `nft` is, if installed (`PATH` first, then the usual sbin directories).
pub fn nft_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join("nft"))
        .find(|p| p.is_file())
}

/// Why the nftables cases cannot run here (besides [`missing_prerequisite`]).
pub fn missing_nft() -> Option<String> {
    match nft_binary() {
        Some(_) => None,
        None => Some("nft not installed (scripts/setup.sh installs the nftables package)".into()),
    }
}

/// Why the namespace cases cannot run here, if they cannot.
pub fn missing_prerequisite() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root (network namespaces and iptables need it)".into());
    }
    for (_, multi) in BACKENDS {
        if !Path::new(multi).exists() {
            return Some(format!("{multi} not installed"));
        }
    }
    None
}

/// One backend inside one fresh network namespace. Only usable on the thread that made it.
pub struct Ns {
    pub backend: &'static str,
    /// The xtables multi-binary of this backend (a fake tool may `exec` it).
    pub multi: &'static str,
    pub bin: tempfile::TempDir,
    pub dir: tempfile::TempDir,
}

impl Ns {
    pub fn path_env(&self) -> String {
        format!(
            "{}:{}",
            self.bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    pub fn command(&self, program: &str) -> Command {
        assert!(
            thread_is_isolated(),
            "refusing to run {program} outside a test network namespace"
        );
        let mut c = Command::new(program);
        c.env("PATH", self.path_env());
        c
    }

    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        out
    }

    /// Runs nft (asserting success) and returns its stdout.
    pub fn nft(&self, args: &[&str]) -> String {
        let nft = nft_binary().expect("nft");
        let out = self.run(nft.to_str().unwrap(), args);
        assert!(out.status.success(), "nft {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Feeds a script to `nft -f -` (asserting success).
    pub fn nft_script(&self, script: &str) {
        use std::io::Write;
        let nft = nft_binary().expect("nft");
        let mut child = self
            .command(nft.to_str().unwrap())
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nft");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "nft -f - <<{script}: {out:?}");
    }

    /// `nft list table inet <table>`, or None when there is no such table. One nft run,
    /// so that a table deleted meanwhile (by a daemon under test) is `None`, not a failure.
    pub fn nft_table(&self, table: &str) -> Option<String> {
        let nft = nft_binary().expect("nft");
        let out = self.run(nft.to_str().unwrap(), &["list", "table", "inet", table]);
        if out.status.success() {
            return Some(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("No such file or directory"),
            "nft list table inet {table}: {out:?}"
        );
        None
    }

    /// Every table nft shows (iptables-nft's included), one `family name` per line.
    pub fn nft_tables(&self) -> String {
        self.nft(&["list", "tables"])
    }

    pub fn iptables(&self, args: &[&str]) {
        let out = self.run("iptables", args);
        assert!(out.status.success(), "iptables {args:?}: {out:?}");
    }

    pub fn agent(&self, args: &[&str]) -> Output {
        self.run(AGENT, args)
    }

    pub fn spawn_agent(&self, args: &[&str]) -> Reaped {
        Reaped(
            self.command(AGENT)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn agent"),
        )
    }

    /// `iptables-save -t nat` without comments and counters.
    pub fn save(&self, v6: bool) -> String {
        let tool = if v6 {
            "ip6tables-save"
        } else {
            "iptables-save"
        };
        let out = self.run(tool, &["-t", "nat"]);
        assert!(out.status.success(), "{tool}: {out:?}");
        normalise(&String::from_utf8_lossy(&out.stdout))
    }

    pub fn config(&self, text: &[u8]) -> PathBuf {
        let p = self.dir.path().join("ip-masq-agent");
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Ns {
    /// Replaces one of the backend's tools with a shell script (fault injection).
    pub fn fake_tool(&self, tool: &str, script: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.bin.path().join(tool);
        let _ = std::fs::remove_file(&p);
        std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Brings up `lo` in this namespace (for the health endpoint).
    pub fn loopback_up(&self) {
        let out = self.run("ip", &["link", "set", "lo", "up"]);
        assert!(out.status.success(), "ip link set lo up: {out:?}");
    }
}

/// Sends `sig`, waits (at most 5 s) for the exit; returns the status, stderr and how long
/// the exit took.
pub fn terminate(
    agent: &mut Reaped,
    sig: nix::sys::signal::Signal,
) -> (std::process::ExitStatus, String, Duration) {
    let child = &mut agent.0;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("agent did not exit within 5 s of {sig:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = start.elapsed();
    let mut err = String::new();
    if let Some(e) = child.stderr.as_mut() {
        std::io::Read::read_to_string(e, &mut err).unwrap();
    }
    (status, err, took)
}

/// Stops a running agent (SIGSTOP) once no child of its (an nft or iptables run, which
/// would finish its work even with the agent stopped) is left, and resumes it (SIGCONT)
/// when dropped: a change made to the kernel meanwhile cannot be undone by a round before
/// the test has looked at it.
pub struct Paused(nix::unistd::Pid);

pub fn pause(agent: &Reaped) -> Paused {
    use nix::sys::signal::{kill, Signal};
    let pid = nix::unistd::Pid::from_raw(agent.0.id() as i32);
    let children = || {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
            .any(|c| !c.trim().is_empty())
    };
    let start = Instant::now();
    loop {
        kill(pid, Signal::SIGSTOP).unwrap();
        // The stop is asynchronous: wait until the process shows it (state T).
        wait_for("the agent stopped", Duration::from_secs(5), || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('T')))
        });
        if !children() {
            return Paused(pid);
        }
        kill(pid, Signal::SIGCONT).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the agent always had a child running"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGCONT);
    }
}

/// A child that is killed and reaped however the test ends.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn normalise(save: &str) -> String {
    save.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| match l.rfind(" [") {
            Some(i) if l.starts_with(':') && l.ends_with(']') => &l[..i],
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Runs `f` once per backend, each on a fresh thread in a fresh network namespace.
pub fn each_backend(f: impl Fn(&Ns) + Sync) {
    for (backend, multi) in BACKENDS {
        std::thread::scope(|s| {
            s.spawn(|| {
                unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
                assert!(thread_is_isolated(), "unshare did not isolate the thread");
                let bin = tempfile::tempdir().unwrap();
                for tool in TOOLS {
                    std::os::unix::fs::symlink(multi, bin.path().join(tool)).unwrap();
                }
                let ns = Ns {
                    backend,
                    multi,
                    bin,
                    dir: tempfile::tempdir().unwrap(),
                };
                f(&ns);
            })
            .join()
            .unwrap_or_else(|_| panic!("case failed on the {backend} backend"));
        });
    }
}

/// The normalised `iptables-save -t nat` expected after a sync.
pub fn expected(chain: &str, returns: &[&str], masq: &str) -> String {
    let mut s = format!(
        "*nat\n:PREROUTING ACCEPT\n:INPUT ACCEPT\n:OUTPUT ACCEPT\n:POSTROUTING ACCEPT\n:{chain} -\n\
         -A POSTROUTING -m comment --comment \"ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom {chain} chain\" -m addrtype ! --dst-type LOCAL -j {chain}\n"
    );
    for d in returns {
        s.push_str(&format!(
            "-A {chain} -d {d} -m comment --comment \"{LOCAL}\" -j RETURN\n"
        ));
    }
    s.push_str(&format!(
        "-A {chain} -m comment --comment \"{OUTBOUND}\" -j {masq}\nCOMMIT\n"
    ));
    s
}

pub fn default_v4() -> String {
    expected(
        "IP-MASQ-AGENT",
        &[
            "169.254.0.0/16",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
        ],
        "MASQUERADE --random-fully",
    )
}

/// What `iptables-save -t nat` shows in a namespace nobody has touched.
pub fn untouched(ns: &Ns, v6: bool) -> bool {
    !ns.save(v6).contains("IP-MASQ-AGENT")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The lines a child writes to a pipe, gathered by a thread as they come (the thread ends
/// at the pipe's end, when the child is gone).
#[derive(Clone)]
pub struct Lines(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Lines {
    pub fn gather(pipe: impl std::io::Read + Send + 'static) -> Lines {
        let lines = Lines(Default::default());
        let sink = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                sink.0.lock().unwrap().push(line);
            }
        });
        lines
    }

    /// Every line so far.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn count(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.0.lock().unwrap().iter().filter(|l| pred(l)).count()
    }
}
