//! The loop's semantics against a fake backend, in milliseconds: the fake records every
//! call and fails the ones a test scripts. The config is a real file in a temporary
//! directory (the loop's own reading is part of what is tested).

use super::*;
use crate::config::ParseOptions;
use crate::datapath::backend::{Backend, BackendError, Cleanup, StopFlag};
use crate::datapath::nftables::elements::ElementEdit;
use crate::datapath::nftables::netlink::BatchError;
use crate::datapath::nftables::objects::TableObjects;
use crate::datapath::{nftables, Family, RuleOptions};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// What the fake saw, shared with the test (the agent owns the backend).
#[derive(Debug, Default)]
struct Record {
    /// `restore V4`, `jump V6 CHAIN`, `random-fully`, in order.
    calls: Vec<String>,
    /// The payloads restored, per family, last one last.
    payloads: Vec<(Family, String)>,
    /// Call name → how many more times it fails.
    failures: HashMap<String, usize>,
    /// Call name → set this flag when the call happens (a signal arriving mid-round).
    stop_during: Option<(String, StopFlag)>,
    /// With `stop_during`: that call is killed by the stop, as the real runner kills a
    /// tool it is waiting for (`BackendError::Interrupted`).
    interrupted: bool,
    /// The nft scripts applied, last one last.
    scripts: Vec<String>,
    /// What `nft list table` answers (`None`: no such table); read, not recorded as a call.
    listing: Option<String>,
    /// How many times `nft list table` was read.
    listings: usize,
    /// What the nftables generation read answers (`None`: unreadable).
    generation: Option<u32>,
    /// The element edits applied, last one last.
    edits: Vec<ElementEdit>,
    /// What the dump of the table's chains and sets answers (`None`: unreadable).
    objects: Option<TableObjects>,
    /// What the dump of any set's elements answers (`None`: unreadable).
    contents: Option<Vec<ipnet::IpNet>>,
    /// Someone else commits (the generation moves) just before the call with this index
    /// in `calls`.
    foreign_commit_before: Option<usize>,
    /// Call name → what a cleanup call answers (default: nothing found).
    cleanups: HashMap<String, Cleanup>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Record>>);

impl Fake {
    fn call(&self, name: String) -> Result<(), BackendError> {
        let mut r = self.0.lock().unwrap();
        if r.foreign_commit_before == Some(r.calls.len()) {
            r.generation = r.generation.map(|g| g + 1);
        }
        r.calls.push(name.clone());
        if let Some((on, flag)) = &r.stop_during {
            if *on == name {
                flag.set();
                if r.interrupted {
                    return Err(BackendError::Interrupted { command: name });
                }
            }
        }
        match r.failures.get_mut(&name) {
            Some(n) if *n > 0 => {
                *n -= 1;
                Err(BackendError::Failed {
                    command: name,
                    status: "exit status 4".into(),
                    stderr: "scripted failure".into(),
                })
            }
            _ => Ok(()),
        }
    }
    fn fail(&self, name: &str, times: usize) {
        self.0.lock().unwrap().failures.insert(name.into(), times);
    }
    fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().calls.clone()
    }
    fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap().calls)
    }
    fn last_payload(&self, family: Family) -> String {
        let r = self.0.lock().unwrap();
        let p = r.payloads.iter().rev().find(|(f, _)| *f == family);
        p.map(|(_, p)| p.clone()).unwrap_or_default()
    }
}

impl Backend for Fake {
    fn restore(&mut self, family: Family, payload: &str) -> Result<(), BackendError> {
        self.call(format!("restore {family:?}"))?;
        let mut r = self.0.lock().unwrap();
        r.payloads.push((family, payload.to_string()));
        Ok(())
    }
    fn ensure_jump(&mut self, family: Family, chain: &str) -> Result<(), BackendError> {
        self.call(format!("jump {family:?} {chain}"))
    }
    fn supports_random_fully(&mut self) -> Result<bool, BackendError> {
        self.call("random-fully".into()).map(|()| true)
    }
    /// A script that flushes or deletes something is a commit: it moves the generation
    /// (the structure alone, on a table that has it, changes nothing, as in the kernel).
    fn nft_apply(&mut self, script: &str) -> Result<(), BackendError> {
        self.call("nft".into())?;
        let mut r = self.0.lock().unwrap();
        r.scripts.push(script.to_string());
        if script.contains("flush") || script.contains("delete") {
            r.generation = r.generation.map(|g| g + 1);
        }
        Ok(())
    }
    fn nft_table_objects(&mut self, _table: &str) -> Option<TableObjects> {
        self.0.lock().unwrap().objects.clone()
    }
    fn nft_set_contents(&mut self, _table: &str, _set: &str) -> Option<Vec<ipnet::IpNet>> {
        self.0.lock().unwrap().contents.clone()
    }
    fn nft_list_table(&mut self, _table: &str) -> Option<String> {
        let mut r = self.0.lock().unwrap();
        r.listings += 1;
        r.listing.clone()
    }
    fn nft_generation(&mut self) -> Option<u32> {
        self.0.lock().unwrap().generation
    }
    /// Refused unless the generation is the edit's (as the kernel does); a commit bumps it.
    fn nft_edit_elements(&mut self, edit: &ElementEdit) -> Result<(), BackendError> {
        self.call("nft-elements".into())?;
        let mut r = self.0.lock().unwrap();
        if r.generation != Some(edit.generation) {
            return Err(BatchError::GenerationMoved(edit.generation).into());
        }
        // A batch that names no element commits nothing here: the fake's sets are taken
        // as empty, and the kernel commits nothing for the flush of an empty set.
        if edit.counts() != (0, 0) {
            r.generation = Some(edit.generation + 1);
        }
        r.edits.push(edit.clone());
        Ok(())
    }
    fn remove_iptables(&mut self, family: Family, chain: &str) -> Result<Cleanup, BackendError> {
        self.cleanup(format!("rm-iptables {family:?} {chain}"))
    }
    fn remove_nft_table(&mut self, table: &str) -> Result<Cleanup, BackendError> {
        self.cleanup(format!("rm-nft {table}"))
    }
}

impl Fake {
    fn cleanup(&self, name: String) -> Result<Cleanup, BackendError> {
        self.call(name.clone())?;
        let r = self.0.lock().unwrap();
        Ok(r.cleanups.get(&name).cloned().unwrap_or(Cleanup::Nothing))
    }
    fn last_script(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .scripts
            .last()
            .cloned()
            .unwrap_or_default()
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    path: PathBuf,
    fake: Fake,
    stop: StopFlag,
    agent: Agent<Fake>,
}

fn setup(ipv6: bool) -> Setup {
    setup_with(ipv6, Datapath::Iptables)
}

fn setup_with(ipv6: bool, datapath: Datapath) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ip-masq-agent");
    let settings = Settings {
        datapath,
        config_path: path.clone(),
        rules: RuleOptions {
            ipv6,
            ..RuleOptions::default()
        },
        ..Settings::default()
    };
    let fake = Fake::default();
    let stop = StopFlag::default();
    let agent = Agent::new(settings, fake.clone(), stop.clone());
    Setup {
        _dir: dir,
        path,
        fake,
        stop,
        agent,
    }
}

impl Setup {
    fn write(&self, text: &str) {
        std::fs::write(&self.path, text).unwrap();
    }
}

const ROUND_V4: [&str; 3] = [
    "restore V4",
    "jump V4 IP-MASQ-AGENT",
    "rm-nft IP-MASQ-AGENT",
];

#[test]
fn nothing_is_written_before_the_first_good_config() {
    let mut s = setup(false);
    s.write("nonMasqueradeCIDRs: [10.0.0.1/8]\n");
    for _ in 0..3 {
        assert!(matches!(s.agent.sync(), Err(SyncError::Load(_))));
    }
    assert!(s.fake.calls().is_empty(), "{:?}", s.fake.calls());
    // The interval before any good config is the default one.
    assert_eq!(s.agent.interval(), Duration::from_secs(60));
}

#[test]
fn a_good_round_restores_then_jumps_and_probes_random_fully_once() {
    let mut s = setup(true);
    s.agent.sync().unwrap();
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.calls(),
        [
            "random-fully",
            "restore V4",
            "jump V4 IP-MASQ-AGENT",
            "restore V6",
            "jump V6 IP-MASQ-AGENT",
            "rm-nft IP-MASQ-AGENT",
            "restore V4",
            "jump V4 IP-MASQ-AGENT",
            "restore V6",
            "jump V6 IP-MASQ-AGENT",
            "rm-nft IP-MASQ-AGENT"
        ]
    );
    assert!(s
        .fake
        .last_payload(Family::V4)
        .contains("-d 10.0.0.0/8 -j RETURN"));
    assert!(s
        .fake
        .last_payload(Family::V6)
        .contains("-d fe80::/10 -j RETURN"));
}

#[test]
fn bad_input_keeps_the_last_good_config_and_touches_nothing() {
    let mut s = setup(false);
    s.write("nonMasqueradeCIDRs: [192.168.0.0/16]\nresyncInterval: 2s\n");
    s.agent.sync().unwrap();
    s.fake.take_calls();
    for bad in [
        "nonMasqueradeCIDRs: [10.0.0.1/8]\n",
        "resyncInterval: 30\n",
        "nonMasqueradeCIDRs: [010.0.0.0/8]\n",
        ": : :\n\t- [",
    ] {
        s.write(bad);
        let e = s.agent.sync().unwrap_err();
        assert!(matches!(e, SyncError::Load(_)), "{bad:?}: {e}");
        assert!(s.fake.calls().is_empty(), "{bad:?}: {:?}", s.fake.calls());
        // The previous interval stays in force.
        assert_eq!(s.agent.interval(), Duration::from_secs(2));
    }
    // Fixed: the new config applies.
    s.write("nonMasqueradeCIDRs: [100.64.0.0/10]\n");
    s.agent.sync().unwrap();
    assert_eq!(s.fake.take_calls(), ROUND_V4);
    assert!(s
        .fake
        .last_payload(Family::V4)
        .contains("-d 100.64.0.0/10 -j RETURN"));
}

#[test]
fn an_ipv4_failure_skips_ipv6_that_round_and_the_next_round_recovers() {
    let mut s = setup(true);
    s.fake.fail("restore V4", 1);
    assert!(matches!(s.agent.sync(), Err(SyncError::Apply(_))));
    assert_eq!(s.fake.take_calls(), ["random-fully", "restore V4"]);
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        [
            "restore V4",
            "jump V4 IP-MASQ-AGENT",
            "restore V6",
            "jump V6 IP-MASQ-AGENT",
            "rm-nft IP-MASQ-AGENT"
        ]
    );
    // A failing jump check stops the round too (no IPv6 restore).
    s.fake.fail("jump V4 IP-MASQ-AGENT", 1);
    assert!(s.agent.sync().is_err());
    assert_eq!(s.fake.take_calls(), ROUND_V4[..2]);
}

#[test]
fn a_failing_random_fully_probe_writes_nothing_and_is_retried() {
    let mut s = setup(false);
    s.fake.fail("random-fully", 1);
    assert!(s.agent.sync().is_err());
    assert_eq!(s.fake.take_calls(), ["random-fully"]);
    s.agent.sync().unwrap();
    assert_eq!(
        s.fake.take_calls(),
        ["random-fully", ROUND_V4[0], ROUND_V4[1], ROUND_V4[2]]
    );
}

/// docs/spec.md §5: "A removed config file means defaults again."
#[test]
fn a_removed_config_reverts_to_defaults() {
    let mut s = setup(false);
    s.write("nonMasqueradeCIDRs: [100.64.0.0/10]\nmasqLinkLocal: true\nresyncInterval: 5s\n");
    s.agent.sync().unwrap();
    assert!(!s.fake.last_payload(Family::V4).contains("169.254.0.0/16"));
    std::fs::remove_file(&s.path).unwrap();
    s.agent.sync().unwrap();
    let p = s.fake.last_payload(Family::V4);
    for d in [
        "169.254.0.0/16",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
    ] {
        assert!(p.contains(&format!("-d {d} -j RETURN")), "{p}");
    }
    assert!(!p.contains("100.64.0.0/10"));
    assert_eq!(s.agent.interval(), Duration::from_secs(60));
}

#[test]
fn a_config_path_that_is_not_a_regular_file_is_refused_without_blocking() {
    let mut s = setup(false);
    nix::unistd::mkfifo(&s.path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let e = s.agent.sync().unwrap_err().to_string();
    assert!(e.contains("not a regular file (a FIFO)"), "{e}");
    std::fs::remove_file(&s.path).unwrap();
    std::fs::create_dir(&s.path).unwrap();
    let e = s.agent.sync().unwrap_err().to_string();
    assert!(e.contains("not a regular file (a directory)"), "{e}");
    assert!(s.fake.calls().is_empty());
}

#[test]
fn a_failed_cleanup_fails_the_round_but_keeps_the_new_rules() {
    for datapath in [Datapath::Nftables, Datapath::Iptables] {
        let mut s = setup_with(false, datapath);
        let health = s.agent.health();
        let failing = match datapath {
            Datapath::Nftables => "rm-iptables V4 IP-MASQ-AGENT",
            Datapath::Iptables => "rm-nft IP-MASQ-AGENT",
        };
        s.fake.fail(failing, 1);
        let r = s.agent.sync();
        assert!(matches!(r, Err(SyncError::Cleanup(_))), "{r:?}");
        let e = r.as_ref().unwrap_err().to_string();
        assert!(e.contains("scripted failure") && e.contains(failing), "{e}");
        assert!(
            e.starts_with(
                "removing the other datapath's rules failed (this datapath's rules are in place): "
            ),
            "{e}"
        );
        s.agent.report(r);
        // Reported like any failed round: /healthz turns 503 once the grace is over.
        let later = Instant::now() + Duration::from_secs(200);
        assert!(health.readiness(later).unwrap_err().contains(failing));
        let calls = s.fake.take_calls();
        // The new rules went in first and are not undone.
        match datapath {
            Datapath::Nftables => assert_eq!(calls, ["nft", "nft", "nft", failing]),
            Datapath::Iptables => {
                assert_eq!(calls, ["random-fully", ROUND_V4[0], ROUND_V4[1], failing])
            }
        }
        s.agent.sync().unwrap();
    }
}

#[test]
fn removed_leftovers_are_logged_and_a_missing_tool_once_at_debug() {
    let mut s = setup_with(false, Datapath::Nftables);
    {
        let mut r = s.fake.0.lock().unwrap();
        r.cleanups.insert(
            "rm-iptables V4 IP-MASQ-AGENT".into(),
            Cleanup::Removed(
                "iptables: 1 POSTROUTING jump(s) and chain IP-MASQ-AGENT (5 rules)".into(),
            ),
        );
        r.cleanups.insert(
            "rm-iptables V6 IP-MASQ-AGENT".into(),
            Cleanup::ToolMissing("ip6tables".into()),
        );
    }
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || Sink(sink.clone()))
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..3 {
            s.agent.sync().unwrap();
        }
    });
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text.matches("removed the other datapath's rules: iptables: 1 POSTROUTING jump(s) and chain IP-MASQ-AGENT").count(),
        3,
        "{text}"
    );
    let missing: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ip6tables is not on PATH"))
        .collect();
    assert_eq!(missing.len(), 1, "{text}");
    assert!(missing[0].contains("DEBUG"), "{text}");
    assert!(text.contains("datapath nftables, applied in "), "{text}");
}

#[test]
fn the_plan_of_each_datapath() {
    let c = Config::defaults(&ParseOptions::default());
    let mut settings = Settings::default();
    let names = |steps: Vec<Step>| -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Restore(f, _) => format!("restore {f:?}"),
                Step::EnsureJump(f, c) => format!("jump {f:?} {c}"),
                Step::NftApply(_) => "nft".into(),
                Step::RemoveIptables(f, c) => format!("rm-iptables {f:?} {c}"),
                Step::RemoveNftTable(t) => format!("rm-nft {t}"),
            })
            .collect()
    };
    assert_eq!(names(plan(&c, &settings, true)), ROUND_V4);
    // A chain name nft cannot take cannot have left a table: nothing to look for.
    settings.rules.chain = "my-chain".into();
    assert_eq!(
        names(plan(&c, &settings, true)),
        ["restore V4", "jump V4 my-chain"]
    );
    settings.rules.chain = "MY-MASQ".into();
    settings.datapath = Datapath::Nftables;
    assert_eq!(
        names(plan(&c, &settings, true)),
        ["nft", "rm-iptables V4 MY-MASQ", "rm-iptables V6 MY-MASQ"]
    );
    // The dry run prints exactly what the plan applies: both transactions, in order.
    let Step::NftApply(scripts) = &plan(&c, &settings, false)[0] else {
        panic!()
    };
    assert_eq!(
        dry_run_text(&c, &settings, false),
        format!(
            "{}\n{}{}\n{}",
            nftables::DRY_RUN_SETS,
            scripts.sets,
            nftables::DRY_RUN_RULES,
            scripts.rules
        )
    );
    settings.datapath = Datapath::Iptables;
    assert_eq!(
        dry_run_text(&c, &settings, true),
        crate::datapath::iptables::restore_payload(
            &c,
            Family::V4,
            &RuleOptions {
                chain: "MY-MASQ".into(),
                ..Default::default()
            }
        )
    );
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

mod coalescing;
mod health;
mod nft;
mod run_loop;
