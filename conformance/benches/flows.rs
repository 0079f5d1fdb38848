//! The cost of a new flow through the node, by datapath and list length: how many new TCP
//! connections and new UDP flows per second a pod gets to an internet address when the
//! agent keeps 64, 1,000 or 10,000 non-masquerade CIDRs. Only a flow's first packet is
//! decided by the nat table (conntrack remembers the rest), so this is the per-flow price
//! of the rules: a chain of RETURN rules is walked rule by rule, an nftables interval set is
//! one lookup. Prints figures; asserts nothing about time.
//!
//! Run as root: `cargo bench -p masq-conformance --bench flows` (scripts/bench.sh flows).
//! Everything happens in a runner-style sandbox (`mcnf-<pid>-...` namespaces: pod, node,
//! world): the agent runs `--once` inside the node namespace, the flows go from the pod to
//! 203.0.113.10 on the world's loopback, and the sandbox is removed after each round.
//! `BENCH_FLOWS` (default 4000) sets the burst, `BENCH_ROUNDS` (default 3) the rounds.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use masq_conformance::topology::Sandbox;
use masq_conformance::vocabulary::IptablesBackend;
use masq_conformance::{guard, names, netns, nftables, toolpath};

const INTERNET: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// The node's address toward the world: what a masqueraded flow arrives from.
const NODE_WORLD: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const TCP_PORT: u16 = 9000;
const UDP_PORT: u16 = 9001;
const SIZES: [usize; 3] = [64, 1_000, 10_000];

/// How the agent reaches the kernel: an iptables backend picked by PATH, or its own nft.
#[derive(Clone, Copy)]
enum Datapath {
    IptablesLegacy,
    IptablesNft,
    Nftables,
}

impl Datapath {
    fn label(self) -> &'static str {
        match self {
            Self::IptablesLegacy => "iptables-legacy",
            Self::IptablesNft => "iptables-nft",
            Self::Nftables => "nftables",
        }
    }

    /// A directory holding only the tools this datapath may use, for the agent's PATH:
    /// the runner's own iptables shims for a backend, or its `nft` link.
    fn tools(self, dir: &Path) -> std::io::Result<PathBuf> {
        let bin = dir.join(format!("bin-{}", self.label()));
        match self {
            Self::IptablesLegacy => IptablesBackend::Legacy.make_shim_dir(&bin)?,
            Self::IptablesNft => IptablesBackend::Nft.make_shim_dir(&bin)?,
            Self::Nftables => toolpath::link_nft(&bin)?,
        }
        Ok(bin)
    }

    fn flags(self) -> &'static [&'static str] {
        match self {
            Self::Nftables => &["--datapath", "nftables"],
            _ => &[],
        }
    }
}

/// A config with `n` /24s in 10/8, no two adjacent (every other one), so that the
/// nftables datapath, which merges adjacent networks, keeps `n` set elements as iptables
/// keeps `n` rules. None covers the internet address.
fn config(n: usize) -> String {
    let mut text = format!("cidrLimit: {n}\nnonMasqueradeCIDRs:\n");
    for i in 0..n {
        text.push_str(&format!("  - 10.{}.{}.0/24\n", i / 128, (i % 128) * 2));
    }
    text
}

/// A TCP listener with an accept queue deep enough for the whole burst: connections are
/// complete once the handshake is, and a full queue would drop SYNs (a 1 s retransmit
/// each), timing the acceptor instead of the node.
fn deep_listener(addr: SocketAddr, backlog: usize) -> std::io::Result<TcpListener> {
    use nix::sys::socket::{bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType};
    use nix::sys::socket::{setsockopt, sockopt::ReuseAddr, SockaddrIn};
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    setsockopt(&fd, ReuseAddr, &true)?;
    let SocketAddr::V4(v4) = addr else {
        return Err(std::io::Error::other("IPv4 only"));
    };
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(v4))?;
    let backlog =
        Backlog::new(i32::try_from(backlog).unwrap_or(i32::MAX)).unwrap_or(Backlog::MAXCONN);
    listen(&fd, backlog)?;
    Ok(TcpListener::from(fd))
}

fn agent() -> PathBuf {
    if let Ok(path) = std::env::var("IP_MASQ_AGENT_BIN") {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.join("target/release/ip-masq-agent")
}

/// One sync of `n` CIDRs by the agent inside the node namespace; its wall time.
fn sync(sandbox: &Sandbox, datapath: Datapath, n: usize) -> Result<Duration, String> {
    let path = sandbox.scratch.join("config.yaml");
    std::fs::write(&path, config(n)).map_err(|e| format!("writing the config: {e}"))?;
    let tools = datapath
        .tools(&sandbox.scratch)
        .map_err(|e| format!("the agent's tools: {e}"))?;
    let mut cmd = netns::command_in(sandbox.node.file(), &agent().to_string_lossy())
        .map_err(|e| e.to_string())?;
    cmd.env_clear()
        .env("PATH", &tools)
        .args(["--once", "--config"])
        .arg(&path)
        .args(datapath.flags());
    let started = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("running the agent: {e}"))?;
    let took = started.elapsed();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("");
        return Err(format!("the agent failed ({}): {first}", out.status));
    }
    Ok(took)
}

/// New TCP connections per second from the pod, each accepted in the world from the
/// node's address (checked: an unmasqueraded flow would not measure the rules' price).
fn tcp_rate(sandbox: &Sandbox, flows: usize) -> Result<f64, String> {
    let addr = SocketAddr::new(IpAddr::V4(INTERNET), TCP_PORT);
    let listener = netns::in_ns(sandbox.world.file(), || deep_listener(addr, flows + 16))
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("listening in the world: {e}"))?;
    let wrong = Arc::new(AtomicUsize::new(0));
    let acceptor = {
        let wrong = Arc::clone(&wrong);
        std::thread::spawn(move || {
            for _ in 0..flows {
                match listener.accept() {
                    Ok((_, peer)) if peer.ip() != IpAddr::V4(NODE_WORLD) => {
                        wrong.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        })
    };
    let took = netns::in_ns(sandbox.pod.file(), || -> Result<Duration, String> {
        let started = Instant::now();
        for i in 0..flows {
            TcpStream::connect_timeout(&addr, Duration::from_secs(3))
                .map_err(|e| format!("connection {i} to {addr}: {e}"))?;
        }
        Ok(started.elapsed())
    })
    .map_err(|e| e.to_string())??;
    acceptor.join().map_err(|_| "the acceptor panicked")?;
    match wrong.load(Ordering::Relaxed) {
        0 => Ok(flows as f64 / took.as_secs_f64()),
        n => Err(format!("{n} of {flows} TCP flows arrived unmasqueraded")),
    }
}

/// New UDP flows per second from the pod (one datagram from a fresh socket each); every
/// one must arrive in the world, masqueraded (waited for at most 30 s).
fn udp_rate(sandbox: &Sandbox, flows: usize) -> Result<f64, String> {
    let addr = SocketAddr::new(IpAddr::V4(INTERNET), UDP_PORT);
    let receiver = netns::in_ns(sandbox.world.file(), || UdpSocket::bind(addr))
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("binding in the world: {e}"))?;
    receiver
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    // Room for the whole burst (root may exceed rmem_max), so a receiver that falls behind
    // on a loaded machine loses nothing.
    nix::sys::socket::setsockopt(
        &receiver,
        nix::sys::socket::sockopt::RcvBufForce,
        &(64 << 20),
    )
    .map_err(|e| format!("receive buffer: {e}"))?;
    let counter = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut got, mut wrong, mut buf) = (0usize, 0usize, [0u8; 16]);
        while got < flows && Instant::now() < deadline {
            if let Ok((_, peer)) = receiver.recv_from(&mut buf) {
                got += 1;
                wrong += usize::from(peer.ip() != IpAddr::V4(NODE_WORLD));
            }
        }
        (got, wrong)
    });
    // A veth hands a packet to the next namespace within the sender's call, so the
    // forwarding and the nat decision are paid inside `send_to`: the sender's loop is the
    // time the node takes, the receiver only confirms that every flow arrived masqueraded.
    let took = netns::in_ns(sandbox.pod.file(), || -> Result<Duration, String> {
        let started = Instant::now();
        for i in 0..flows {
            let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
                .map_err(|e| format!("socket for flow {i}: {e}"))?;
            socket
                .send_to(b"x", addr)
                .map_err(|e| format!("flow {i} to {addr}: {e}"))?;
        }
        Ok(started.elapsed())
    })
    .map_err(|e| e.to_string())??;
    let (got, wrong) = counter.join().map_err(|_| "the counter panicked")?;
    if wrong > 0 {
        return Err(format!("{wrong} of {got} UDP flows arrived unmasqueraded"));
    }
    if got < flows {
        return Err(format!("{got} of {flows} UDP flows arrived within 30 s"));
    }
    Ok(flows as f64 / took.as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether this datapath can run here: its tools exist and the agent is built.
fn available(datapath: Datapath) -> Result<(), String> {
    let installed = match datapath {
        Datapath::IptablesLegacy => IptablesBackend::Legacy.binary().is_some(),
        Datapath::IptablesNft => IptablesBackend::Nft.binary().is_some(),
        Datapath::Nftables => nftables::binary().is_some(),
    };
    if !installed {
        return Err("its tools are not installed (scripts/setup.sh installs them)".into());
    }
    if !agent().exists() {
        return Err(format!(
            "{} is missing: cargo build --release -p ip-masq-agent",
            agent().display()
        ));
    }
    Ok(())
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: the flow benchmark needs root");
        return;
    }
    guard::init();
    names::sweep_stale();
    let flows = env_usize("BENCH_FLOWS", 4000);
    let rounds = env_usize("BENCH_ROUNDS", 3).max(1);
    println!(
        "flow benchmark: {flows} new flows per protocol from pod to {INTERNET}, medians of {rounds} rounds"
    );
    println!(
        "{:<16} {:>7} {:>10} {:>14} {:>14}",
        "datapath", "CIDRs", "sync", "tcp flows/s", "udp flows/s"
    );
    for datapath in [
        Datapath::IptablesLegacy,
        Datapath::IptablesNft,
        Datapath::Nftables,
    ] {
        if let Err(why) = available(datapath) {
            println!("{:<16} skipped: {why}", datapath.label());
            continue;
        }
        let mut first: Option<(f64, f64)> = None;
        for n in SIZES {
            let (mut syncs, mut tcp, mut udp) = (vec![], vec![], vec![]);
            let mut failed = None;
            for _ in 0..rounds {
                let round = || -> Result<(f64, f64, f64), String> {
                    let sandbox = Sandbox::create(&[IpAddr::V4(INTERNET)])
                        .map_err(|e| format!("sandbox: {e}"))?;
                    let took = sync(&sandbox, datapath, n)?;
                    let t = tcp_rate(&sandbox, flows)?;
                    let u = udp_rate(&sandbox, flows)?;
                    Ok((took.as_secs_f64() * 1e3, t, u))
                };
                match round() {
                    Ok((s, t, u)) => {
                        syncs.push(s);
                        tcp.push(t);
                        udp.push(u);
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = failed {
                println!("{:<16} {n:>7} failed: {e}", datapath.label());
                continue;
            }
            let (s, t, u) = (median(syncs), median(tcp), median(udp));
            let base = *first.get_or_insert((t, u));
            println!(
                "{:<16} {n:>7} {:>8.1}ms {:>9.0} ({:>+4.0}%) {:>8.0} ({:>+4.0}%)",
                datapath.label(),
                s,
                t,
                (t / base.0 - 1.0) * 100.0,
                u,
                (u / base.1 - 1.0) * 100.0
            );
            let _ = std::io::stdout().flush();
        }
    }
    println!("(percentages: against the same datapath with 64 CIDRs; sync = the agent's --once wall time, process start included)");
}
