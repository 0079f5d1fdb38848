//! Sandbox setup and teardown: rtnetlink (what the runner does) against the same topology
//! built with `ip` commands, in the same run. Prints figures; asserts nothing about time.
//!
//! Run as root: `cargo bench -p masq-conformance --bench sandbox` (or scripts/bench.sh).
//! Everything is created inside namespaces named `mcnf-<pid>-...`, like the runner's.

use std::process::Command;
use std::time::{Duration, Instant};

use masq_conformance::topology::Sandbox;
use masq_conformance::{guard, names};

const ROUNDS: usize = 30;

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The runner's topology (topology.rs), one `ip` command per operation.
fn with_ip_commands(tag: &str, world_addrs: &[String]) -> (Duration, Duration) {
    let started = Instant::now();
    let (pod, node, world) = (
        format!("{tag}-pod"),
        format!("{tag}-node"),
        format!("{tag}-world"),
    );
    let sysctl = |ns: &str, kv: &str| ip(&["netns", "exec", ns, "sysctl", "-qw", kv]);
    let addr = |ns: &str, cidr: &str, dev: &str| ip(&["-n", ns, "addr", "add", cidr, "dev", dev]);
    let up = |ns: &str, dev: &str| ip(&["-n", ns, "link", "set", dev, "up"]);
    let neigh = |ns: &str, a: &str, mac: &str, dev: &str| {
        ip(&[
            "-n",
            ns,
            "neigh",
            "add",
            a,
            "lladdr",
            mac,
            "dev",
            dev,
            "nud",
            "permanent",
        ]);
    };
    let default_routes = |ns: &str, via4: &str, via6: &str| {
        ip(&["-n", ns, "route", "add", "default", "via", via4]);
        ip(&["-n", ns, "-6", "route", "add", "default", "via", via6]);
    };
    let veth = |ns: &str, mac: &str, peer: &str, peer_mac: &str| {
        ip(&[
            "-n", ns, "link", "add", "eth0", "address", mac, "type", "veth", "peer", "name", peer,
            "address", peer_mac, "netns", &node,
        ]);
    };
    for ns in [&pod, &node, &world] {
        ip(&["netns", "add", ns]);
        sysctl(ns, "net.ipv6.conf.default.accept_dad=0");
        sysctl(ns, "net.ipv6.conf.all.accept_dad=0");
    }
    sysctl(&node, "net.ipv4.ip_forward=1");
    sysctl(&node, "net.ipv6.conf.all.forwarding=1");
    let (m_pod, m_node_pod, m_node_world, m_world) = (
        "02:6d:63:00:00:01",
        "02:6d:63:00:00:02",
        "02:6d:63:00:00:03",
        "02:6d:63:00:00:04",
    );
    veth(&pod, m_pod, "to-pod", m_node_pod);
    veth(&world, m_world, "to-world", m_node_world);

    addr(&pod, "10.244.0.2/24", "eth0");
    addr(&pod, "fd00:10:244::2/64", "eth0");
    up(&pod, "lo");
    up(&pod, "eth0");
    neigh(&pod, "10.244.0.1", m_node_pod, "eth0");
    neigh(&pod, "fd00:10:244::1", m_node_pod, "eth0");
    default_routes(&pod, "10.244.0.1", "fd00:10:244::1");

    addr(&node, "10.244.0.1/24", "to-pod");
    addr(&node, "fd00:10:244::1/64", "to-pod");
    addr(&node, "198.51.100.1/24", "to-world");
    addr(&node, "2001:db8:1::1/64", "to-world");
    for dev in ["lo", "to-pod", "to-world"] {
        up(&node, dev);
    }
    neigh(&node, "10.244.0.2", m_pod, "to-pod");
    neigh(&node, "fd00:10:244::2", m_pod, "to-pod");
    neigh(&node, "198.51.100.2", m_world, "to-world");
    neigh(&node, "2001:db8:1::2", m_world, "to-world");
    default_routes(&node, "198.51.100.2", "2001:db8:1::2");

    addr(&world, "198.51.100.2/24", "eth0");
    addr(&world, "2001:db8:1::2/64", "eth0");
    up(&world, "lo");
    up(&world, "eth0");
    for a in world_addrs {
        addr(&world, a, "lo");
    }
    neigh(&world, "198.51.100.1", m_node_world, "eth0");
    neigh(&world, "2001:db8:1::1", m_node_world, "eth0");
    default_routes(&world, "198.51.100.1", "2001:db8:1::1");
    let up = started.elapsed();
    let t = Instant::now();
    for ns in [&pod, &node, &world] {
        ip(&["netns", "del", ns]);
    }
    (up, t.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: the sandbox benchmark needs root");
        return;
    }
    guard::init();
    names::sweep_stale();
    let addrs: Vec<std::net::IpAddr> = masq_conformance::vocabulary::standard_targets()
        .into_iter()
        .filter(|t| !t.name.starts_with("node"))
        .map(|t| t.address)
        .collect();
    let with_len: Vec<String> = addrs
        .iter()
        .map(|a| format!("{a}/{}", if a.is_ipv4() { 32 } else { 128 }))
        .collect();

    let (mut nl_up, mut nl_down, mut nl_total) = (vec![], vec![], vec![]);
    let (mut ip_up, mut ip_down, mut ip_total) = (vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        let t = Instant::now();
        let sandbox = Sandbox::create(&addrs).expect("sandbox");
        let up = t.elapsed();
        let t2 = Instant::now();
        drop(sandbox);
        let down = t2.elapsed();
        nl_up.push(up);
        nl_down.push(down);
        nl_total.push(up + down);

        let tag = format!("{}{}-ipbench{round}", names::PREFIX, std::process::id());
        let (up, down) = with_ip_commands(&tag, &with_len);
        ip_up.push(up);
        ip_down.push(down);
        ip_total.push(up + down);
    }
    let (a, b) = (median(nl_total.clone()), median(ip_total.clone()));
    println!("sandbox benchmark: {ROUNDS} rounds each, medians (3 namespaces, 2 veth pairs, 15 addresses, 8 neighbours, 6 routes)");
    println!(
        "  rtnetlink     setup {:>10}  teardown {:>10}  total {:>10}",
        ms(median(nl_up)),
        ms(median(nl_down)),
        ms(a)
    );
    println!(
        "  ip commands   setup {:>10}  teardown {:>10}  total {:>10}",
        ms(median(ip_up)),
        ms(median(ip_down)),
        ms(b)
    );
    println!(
        "  ratio ip/rtnetlink (total): {:.1}x",
        b.as_secs_f64() / a.as_secs_f64()
    );
}
