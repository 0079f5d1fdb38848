//! The nftables datapath's quiet resync, against the real kernel in namespaces: a round
//! that finds the table as the agent left it commits nothing, observed with `nft monitor`
//! (the kernel's own record of every commit), even after another table was committed in
//! between (a new ruleset generation), and drift in between is still healed.

use crate::support::*;

const TABLE: &str = "IP-MASQ-AGENT";

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// `nft monitor` in the namespace: every committed change, as nft prints it, in commit
/// order (each transaction's events, then its `# new generation N` line).
struct Monitor {
    _child: Reaped,
    events: Lines,
    markers: std::cell::Cell<usize>,
}

impl Monitor {
    /// Started and listening: a marker table added by hand has been seen.
    fn start(ns: &Ns) -> Monitor {
        let nft = nft_binary().expect("nft");
        let mut child = Reaped(
            ns.command(nft.to_str().unwrap())
                .arg("monitor")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn nft monitor"),
        );
        let events = Lines::gather(child.0.stdout.take().unwrap());
        let m = Monitor {
            _child: child,
            events,
            markers: 0.into(),
        };
        // Until it has subscribed, the monitor misses events: add markers until one shows.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while m.events.count(|l| l.starts_with("add table inet marker")) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "nft monitor never listened"
            );
            m.mark(ns, false);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        m
    }

    /// Adds a new marker table; when `wait`, waits until the monitor shows it and returns
    /// the index of the line after its transaction (its `# new generation` line included).
    /// Netlink delivers events in commit order, so every commit before the marker's shows
    /// before it.
    fn mark(&self, ns: &Ns, wait: bool) -> usize {
        let n = self.markers.get() + 1;
        self.markers.set(n);
        let name = format!("marker{n}");
        ns.nft(&["add", "table", "inet", &name]);
        if !wait {
            return 0;
        }
        let line = format!("add table inet {name}");
        let mut at = None;
        wait_for(&line, std::time::Duration::from_secs(10), || {
            let all = self.events.all();
            at = all.iter().position(|l| *l == line).filter(|i| {
                all.get(i + 1)
                    .is_some_and(|g| g.starts_with("# new generation"))
            });
            at.is_some()
        });
        at.unwrap() + 2
    }

    /// The events between two marks (`from` as returned by one, `to` by a later one).
    fn between(&self, from: usize, to: usize) -> Vec<String> {
        self.events.all()[from..to - 2].to_vec()
    }
}

/// The table's handle (`nft -a list table`): the same handle means the table was never
/// deleted and re-created in between.
fn table_handle(ns: &Ns) -> String {
    let listing = ns.nft(&["-a", "list", "table", "inet", TABLE]);
    let first = listing.lines().next().unwrap_or_default();
    first
        .split_once("# handle ")
        .unwrap_or_else(|| panic!("no handle: {listing}"))
        .1
        .trim()
        .to_string()
}

/// A resync that finds the table as the agent left it sends no transaction at all (`nft
/// monitor` sees no commit across several rounds); a change made by hand in between is
/// still healed at the next round, in place (the table is never re-created), after which
/// the rounds are quiet again.
pub fn an_unchanged_resync_sends_no_transaction() {
    each_backend(|ns| {
        let long = std::time::Duration::from_secs(10);
        let monitor = Monitor::start(ns);
        let cfg =
            ns.config(b"resyncInterval: 100ms\nnonMasqueradeCIDRs: [10.0.0.0/8, 172.16.0.0/12]\n");
        let mut agent = ns.spawn_agent(&["--config", s(&cfg), "--datapath", "nftables"]);
        let log = Lines::gather(agent.0.stderr.take().unwrap());
        // Each round, applied or not, ends with one `synced:` line.
        let rounds = || log.count(|l| l.contains("synced: "));
        let quiet_rounds = |what: &str| {
            let from = monitor.mark(ns, true);
            let after = rounds();
            wait_for(what, long, || rounds() >= after + 3);
            let to = monitor.mark(ns, true);
            let events = monitor.between(from, to);
            assert!(
                events.is_empty(),
                "{}: {what}: commits while nothing changed: {events:#?}\n{:#?}",
                ns.backend,
                log.all()
            );
            to
        };
        wait_for("first sync", long, || rounds() >= 1);
        let good = ns.nft_table(TABLE).expect("the table");
        let handle = table_handle(ns);
        quiet_rounds("three unchanged rounds");

        // An unrelated table added by hand (what kube-proxy's own commits look like) moves
        // the ruleset generation: the agent looks at its table once, finds it as it left
        // it, and commits nothing (the only commit seen is that table's).
        let from = monitor.mark(ns, true);
        ns.nft(&["add", "table", "inet", "unrelated"]);
        let after = rounds();
        wait_for("rounds after an unrelated table", long, || {
            rounds() >= after + 3
        });
        let to = monitor.mark(ns, true);
        let events = monitor.between(from, to);
        assert!(
            events.len() == 2
                && events[0] == "add table inet unrelated"
                && events[1].starts_with("# new generation"),
            "{}: commits beyond the unrelated table: {events:#?}",
            ns.backend
        );
        let mut last = quiet_rounds("three rounds after the unrelated table");

        for (what, script, healing) in [
            (
                "deleted set element",
                format!("delete element inet {TABLE} nomasq-v4 {{ 10.0.0.0/8 }}"),
                format!("add element inet {TABLE} nomasq-v4 "),
            ),
            (
                "flushed chain",
                format!("flush chain inet {TABLE} {TABLE}"),
                format!("add rule inet {TABLE} {TABLE} "),
            ),
        ] {
            ns.nft_script(&script);
            wait_for(&format!("heal after {what}"), long, || {
                ns.nft_table(TABLE).as_ref() == Some(&good)
            });
            let to = monitor.mark(ns, true);
            let events = monitor.between(last, to);
            assert!(
                events.iter().any(|e| e.starts_with(&healing)),
                "{}: {what} healed without {healing:?}: {events:#?}",
                ns.backend
            );
            assert_eq!(table_handle(ns), handle, "{what}: the table was re-created");
            last = quiet_rounds(&format!("three rounds after healing {what}"));
        }
        assert!(
            !monitor
                .events
                .all()
                .iter()
                .any(|e| e.starts_with("delete table")),
            "{:#?}",
            monitor.events.all()
        );
        let (status, err, _) = terminate(&mut agent, nix::sys::signal::Signal::SIGTERM);
        assert!(status.success(), "{err}");
    });
}

/// A config change that only adds and removes CIDRs commits exactly those elements, in
/// one transaction (one `# new generation`), rules untouched; nft lists the result as
/// the config says (an open-ended prefix, 240.0.0.0/4, included).
pub fn a_change_of_cidrs_commits_only_those_elements() {
    each_backend(|ns| {
        if ns.backend != "nft" {
            return; // The iptables backend plays no part in the nftables datapath's sync.
        }
        let long = std::time::Duration::from_secs(10);
        let monitor = Monitor::start(ns);
        let cfg =
            ns.config(b"resyncInterval: 1h\nnonMasqueradeCIDRs: [10.0.0.0/8, 172.16.0.0/12]\n");
        let mut agent = ns.spawn_agent(&["--config", s(&cfg), "--datapath", "nftables"]);
        let log = Lines::gather(agent.0.stderr.take().unwrap());
        let rounds = || log.count(|l| l.contains("synced: "));
        wait_for("first sync", long, || rounds() >= 1);
        let from = monitor.mark(ns, true);
        let changed =
            b"resyncInterval: 1h\nnonMasqueradeCIDRs: [10.0.0.0/8, 100.64.0.0/10, 240.0.0.0/4]\n";
        let tmp = cfg.with_extension("new");
        std::fs::write(&tmp, changed).unwrap();
        std::fs::rename(&tmp, &cfg).unwrap();
        wait_for("the change applied", long, || rounds() >= 2);
        let to = monitor.mark(ns, true);
        let events = monitor.between(from, to);
        let generations = events
            .iter()
            .filter(|e| e.starts_with("# new generation"))
            .count();
        assert!(
            generations == 1
                && events.len() > 1
                && events[..events.len() - 1]
                    .iter()
                    .all(|e| e.starts_with("add element") || e.starts_with("delete element")),
            "not one transaction of elements: {events:#?}\n{:#?}",
            log.all()
        );
        let listing = ns.nft_table(TABLE).expect("the table");
        assert!(
            listing.contains("elements = { 10.0.0.0/8, 100.64.0.0/10,\n\t\t\t     240.0.0.0/4 }"),
            "{listing}"
        );
        let (status, err, _) = terminate(&mut agent, nix::sys::signal::Signal::SIGTERM);
        assert!(status.success(), "{err}");
    });
}

/// The inodes of the `NETLINK_NETFILTER` sockets process `pid` holds (its fds that are
/// sockets, matched against its namespace's `/proc/<pid>/net/netlink`, protocol 12).
fn netfilter_sockets(pid: u32) -> Vec<String> {
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/netlink")).unwrap();
    let netfilter: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1) == Some(&"12")).then(|| *f.last().unwrap())
        })
        .collect();
    let mut out: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_str()?.to_string();
            let inode = l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string();
            netfilter.contains(&inode.as_str()).then_some(inode)
        })
        .collect();
    out.sort();
    out
}

/// Config changes that only add and remove CIDRs go over the one netlink socket the
/// daemon keeps (the same socket, and no other, after every change: nothing opened or
/// closed per round), each round an element batch and no listing; a change made by
/// another writer in between (the generation moved) is still caught at the next change
/// and healed: the table ends as the config says.
pub fn element_changes_reuse_one_kept_socket_and_a_foreign_change_is_healed() {
    each_backend(|ns| {
        if ns.backend != "nft" {
            return; // The iptables backend plays no part in the nftables datapath's sync.
        }
        let long = std::time::Duration::from_secs(10);
        let base = "resyncInterval: 1h\nnonMasqueradeCIDRs: [10.0.0.0/8, 172.16.0.0/12";
        let cfg = ns.config(format!("{base}]\n").as_bytes());
        let mut agent = ns.spawn_agent(&["--config", s(&cfg), "--datapath", "nftables", "--v=4"]);
        let pid = agent.0.id();
        let log = Lines::gather(agent.0.stderr.take().unwrap());
        let rounds = || log.count(|l| l.contains("synced: "));
        // The debug line of the last round gathered (written before its "synced" line).
        let last_round = || {
            log.all()
                .into_iter()
                .rfind(|l| l.contains("nft round: "))
                .expect("an nft round line")
        };
        let write = |extra: &str| {
            let tmp = cfg.with_extension("new");
            std::fs::write(&tmp, format!("{base}{extra}]\n")).unwrap();
            std::fs::rename(&tmp, &cfg).unwrap();
        };
        wait_for("first sync", long, || rounds() >= 1);
        let mut kept = None;
        for (k, extra) in ["", ", 192.168.0.0/16", "", ", 192.168.0.0/16"]
            .iter()
            .enumerate()
            .skip(1)
        {
            write(extra);
            wait_for("the change applied", long, || rounds() > k);
            let round = last_round();
            assert!(
                round.contains("element batch") && !round.contains("listing"),
                "round {k} was not one element batch: {round}\n{:#?}",
                log.all()
            );
            // A one-off socket of the first round's dumps may still be closing.
            std::thread::sleep(std::time::Duration::from_millis(200));
            let sockets = netfilter_sockets(pid);
            assert_eq!(sockets.len(), 1, "round {k}: {sockets:?}");
            assert!(
                kept.get_or_insert(sockets.clone()) == &sockets,
                "round {k}: another socket {sockets:?}, not {kept:?}"
            );
        }
        // Another writer adds an element and deletes one of ours; then the config changes.
        ns.nft_script(&format!(
            "add element inet {TABLE} nomasq-v4 {{ 198.51.100.0/24 }}\ndelete element inet {TABLE} nomasq-v4 {{ 10.0.0.0/8 }}\n"
        ));
        write(", 100.64.0.0/10");
        wait_for("the table healed", long, || {
            ns.nft_table(TABLE).is_some_and(|l| {
                l.contains("elements = { 10.0.0.0/8, 100.64.0.0/10,\n\t\t\t     172.16.0.0/12 }")
            })
        });
        // The table heals inside the round; its "nft round" line is written before the
        // round's "synced" line, so once that is gathered the healing round's line is too.
        wait_for("the healing round logged", long, || rounds() > 4);
        let round = last_round();
        assert!(
            round.contains("listing"),
            "the foreign change was not looked at: {round}"
        );
        let (status, err, _) = terminate(&mut agent, nix::sys::signal::Signal::SIGTERM);
        assert!(status.success(), "{err}");
    });
}
