//! Running one case: a fixture's steps against one implementation on one backend.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::configmap::ConfigMapVolume;
use crate::fixture::{self, Fixture, ProbeSelection, ProbeSet, SnapshotPart, Step, Tamper, Wait};
use crate::implementation::{Profile, Readiness, Running, StartOptions};
use crate::iptables::{Backend, NodeTables};
use crate::probe::{self, Outcome, ProbeSpec, Proto, Receivers};
#[cfg(test)]
use crate::topology;
use crate::topology::Sandbox;

/// How long a readiness wait may take before the case fails.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a probe may take to arrive before it counts as dropped.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Polling period of bounded waits.
const POLL: Duration = Duration::from_millis(20);

/// A destination the runner probes.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub address: IpAddr,
}

/// The standard destinations: one per range of SPEC.md's outcome table, IPv4 and IPv6.
pub fn standard_targets() -> Vec<Target> {
    [
        ("rfc1918-10", "10.96.0.10"),
        ("rfc1918-172", "172.20.0.10"),
        ("rfc1918-192", "192.168.0.10"),
        ("link-local", "169.254.169.254"),
        ("internet", "203.0.113.10"),
        ("node", "198.51.100.1"),
        ("ula6", "fd00:10:96::10"),
        ("internet6", "2001:db8:ffff::10"),
        ("node6", "2001:db8:1::1"),
    ]
    .iter()
    .map(|(n, a)| Target {
        name: n.to_string(),
        address: a.parse().expect("valid literal"),
    })
    .collect()
}

/// Addresses the world namespace must carry: the standard ones not owned by the node,
/// plus the fixture's.
fn world_addresses(fixture: &Fixture) -> Vec<IpAddr> {
    standard_targets()
        .into_iter()
        .filter(|t| !t.name.starts_with("node"))
        .map(|t| t.address)
        .chain(fixture.destinations.iter().map(|d| d.address))
        .collect()
}

/// One row of an outcome table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    pub name: String,
    pub address: IpAddr,
    pub outcomes: BTreeMap<Proto, Outcome>,
}

/// The result of one probe step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutcomeTable {
    pub rows: Vec<OutcomeRow>,
}

impl OutcomeTable {
    /// Fixed-width text, one destination per line.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{:<14} {:<20} {:<16} {:<16} {}\n",
            "destination", "address", "udp", "tcp", "icmp"
        );
        for row in &self.rows {
            let cell = |p: Proto| {
                row.outcomes
                    .get(&p)
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "-".into())
            };
            let line = format!(
                "{:<14} {:<20} {:<16} {:<16} {}",
                row.name,
                row.address.to_string(),
                cell(Proto::Udp),
                cell(Proto::Tcp),
                cell(Proto::Icmp)
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Where the time of a case went (for benchmarks and slow-case reports).
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub phases: Vec<(&'static str, Duration)>,
}

impl Timings {
    fn add(&mut self, phase: &'static str, d: Duration) {
        if let Some(entry) = self.phases.iter_mut().find(|(p, _)| *p == phase) {
            entry.1 += d;
        } else {
            self.phases.push((phase, d));
        }
    }
}

/// What a finished case produced.
#[derive(Debug, Clone, Default)]
pub struct CaseOutput {
    /// The snapshot document.
    pub document: String,
    /// Every probe step's table, in order.
    pub tables: Vec<OutcomeTable>,
    /// The implementation's output.
    pub log: String,
    pub timings: Timings,
}

/// A case that could not run to the end.
#[derive(Debug)]
pub struct CaseFailure {
    pub message: String,
    pub output: CaseOutput,
}

/// Everything one case needs.
pub struct CaseSpec<'a> {
    pub name: &'a str,
    pub fixture: &'a Fixture,
    pub profile: &'a Profile,
    pub backend: Backend,
}

struct Flow {
    socket: Socket,
    target: Target,
}

struct Runner<'a> {
    spec: &'a CaseSpec<'a>,
    sandbox: Sandbox,
    volume: ConfigMapVolume,
    receivers: Receivers,
    shim_dir: PathBuf,
    lock_file: PathBuf,
    running: Option<Running>,
    /// The nat table as it was just before the last config or fault step changed
    /// anything; `wait: rules-changed` waits for a difference from it. `None` after a
    /// tamper: the implementation may heal before the runner can look, so there the
    /// race-free wait is `rules`.
    baseline: Option<String>,
    resync: Option<Duration>,
    flows: HashMap<String, Flow>,
    /// Set by a `terminate` step: the implementation is expected to be gone from then on.
    terminated: bool,
    /// Held while a `fault: lock-held` lasts.
    lock_holder: Option<nix::fcntl::Flock<std::fs::File>>,
    out: CaseOutput,
    step_no: usize,
}

/// Runs a case; the sandbox is gone when this returns, whatever happened.
pub fn run_case(spec: &CaseSpec<'_>) -> Result<CaseOutput, CaseFailure> {
    let mut timings = Timings::default();
    let started = Instant::now();
    let sandbox = Sandbox::create(&world_addresses(spec.fixture)).map_err(|e| CaseFailure {
        message: format!("building the sandbox: {e}"),
        output: CaseOutput::default(),
    })?;
    timings.add("sandbox", started.elapsed());
    let mut runner = match Runner::new(spec, sandbox, timings) {
        Ok(r) => r,
        Err(message) => {
            return Err(CaseFailure {
                message,
                output: CaseOutput::default(),
            })
        }
    };
    let result = runner.run_steps();
    let teardown = Instant::now();
    if let Some(mut r) = runner.running.take() {
        runner.out.log = r.log();
        r.stop();
    }
    let mut out = std::mem::take(&mut runner.out);
    drop(runner); // receivers, flows, namespaces, scratch
    out.timings.add("teardown", teardown.elapsed());
    match result {
        Ok(()) => Ok(out),
        Err(message) => Err(CaseFailure {
            message,
            output: out,
        }),
    }
}

impl<'a> Runner<'a> {
    fn new(spec: &'a CaseSpec<'a>, sandbox: Sandbox, timings: Timings) -> Result<Self, String> {
        let key = spec
            .profile
            .config_path
            .file_name()
            .ok_or("config_path has no file name")?
            .to_string_lossy()
            .into_owned();
        let volume = ConfigMapVolume::create(&sandbox.scratch.join("volume"), &key)
            .map_err(|e| format!("creating the config volume: {e}"))?;
        let shim_dir = sandbox.scratch.join("bin");
        spec.backend
            .make_shim_dir(&shim_dir)
            .map_err(|e| format!("backend {}: {e}", spec.backend.name()))?;
        let lock_file = sandbox.scratch.join("xtables.lock");
        let receivers = Receivers::start(sandbox.world.file(), sandbox.node.file())
            .map_err(|e| format!("starting receivers: {e}"))?;
        Ok(Self {
            spec,
            sandbox,
            volume,
            receivers,
            shim_dir,
            lock_file,
            running: None,
            baseline: None,
            resync: spec
                .fixture
                .resync_interval
                .as_deref()
                .and_then(parse_go_duration),
            flows: HashMap::new(),
            terminated: false,
            lock_holder: None,
            out: CaseOutput {
                timings,
                ..Default::default()
            },
            step_no: 0,
        })
    }

    fn tables(&self) -> NodeTables<'_> {
        NodeTables {
            ns: self.sandbox.node.file(),
            backend: self.spec.backend,
            lock_file: &self.lock_file,
        }
    }

    fn run_steps(&mut self) -> Result<(), String> {
        let explicit_start = self
            .spec
            .fixture
            .steps
            .iter()
            .any(|s| matches!(s, Step::Start(_)));
        for (i, step) in self.spec.fixture.steps.iter().enumerate() {
            self.step_no = i + 1;
            let implicit_start = !explicit_start
                && self.running.is_none()
                && !matches!(step, Step::Config(_) | Step::Preload(_));
            if implicit_start {
                self.start()?;
            }
            let began = Instant::now();
            self.step(step)
                .map_err(|e| format!("step {} ({}): {e}", self.step_no, step_name(step)))?;
            if std::env::var_os("MASQ_CONFORMANCE_TRACE").is_some() {
                eprintln!(
                    "trace: {}: step {} ({}) took {:?}",
                    self.spec.name,
                    self.step_no,
                    step_name(step),
                    began.elapsed()
                );
            }
            if let Some(r) = self.running.as_mut() {
                if let Some(status) = r.exited() {
                    if !self.terminated {
                        return Err(format!(
                            "step {}: the implementation exited unexpectedly ({status})",
                            self.step_no
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn step(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Config(value) => {
                let content = fixture::config_content(value)?;
                if let Some(d) = resync_of(value) {
                    self.resync = Some(d);
                }
                self.baseline = Some(self.current_rules().unwrap_or_default());
                self.volume
                    .update(&content)
                    .map_err(|e| format!("publishing the config: {e}"))
            }
            Step::Start(_) => self.start(),
            Step::Wait(w) => {
                let t = Instant::now();
                let r = self.wait(w);
                self.out.timings.add("waits", t.elapsed());
                r
            }
            Step::Probe(sel) => {
                let t = Instant::now();
                let targets = self.select(sel)?;
                let protos = match sel {
                    ProbeSelection::Explicit {
                        protocols: Some(p), ..
                    } => p.clone(),
                    _ => Proto::ALL.to_vec(),
                };
                let table = self.probe(&targets, &protos)?;
                self.out.tables.push(table);
                self.out.timings.add("probes", t.elapsed());
                Ok(())
            }
            Step::Tamper(t) => {
                self.baseline = None;
                self.tamper(*t)
            }
            Step::Preload(lines) => {
                self.preload(lines)?;
                self.baseline = Some(self.current_rules().unwrap_or_default());
                Ok(())
            }
            Step::ConntrackFlush(_) => self.conntrack_flush(),
            Step::FlowOpen(f) => self.flow_open(f),
            Step::FlowProbe(f) => self.flow_probe(f),
            Step::Terminate(_) => self.terminate(),
            Step::Fault(f) => self.fault(f),
            Step::Snapshot(sel) => {
                let t = Instant::now();
                for part in sel.parts() {
                    self.snapshot_part(part)?;
                }
                self.out.timings.add("snapshot", t.elapsed());
                Ok(())
            }
        }
    }

    fn start(&mut self) -> Result<(), String> {
        if self.running.is_some() {
            return Err("the implementation is already running".into());
        }
        let t = Instant::now();
        let running = Running::start(StartOptions {
            profile: self.spec.profile,
            node: self.sandbox.node.file(),
            backend: self.spec.backend,
            flags: &self.spec.fixture.flags,
            volume: self.volume.dir(),
            scratch: &self.sandbox.scratch,
            shim_dir: &self.shim_dir,
            lock_file: &self.lock_file,
        })
        .map_err(|e| e.to_string())?;
        self.running = Some(running);
        self.out.timings.add("implementation start", t.elapsed());
        Ok(())
    }

    fn ipv6(&self) -> bool {
        self.spec.fixture.ipv6()
    }

    /// The address families whose tables matter: IPv4, and IPv6 when enabled.
    fn families(&self) -> &'static [bool] {
        if self.ipv6() {
            &[false, true]
        } else {
            &[false]
        }
    }

    /// The nat table(s), normalised, as one text.
    fn current_rules(&self) -> Result<String, String> {
        let tables = self.tables();
        let mut text =
            crate::snapshot::normalize_save(&tables.save_nat(false).map_err(|e| e.to_string())?);
        if self.ipv6() {
            text.push_str(&crate::snapshot::normalize_save(
                &tables.save_nat(true).map_err(|e| e.to_string())?,
            ));
        }
        Ok(text)
    }

    fn rules_in_place(&self, chain: &str) -> Result<bool, String> {
        let tables = self.tables();
        let families = self.families();
        for &v6 in families {
            let save = tables.save_nat(v6).map_err(|e| e.to_string())?;
            let has_chain = save.lines().any(|l| l.starts_with(&format!(":{chain} ")));
            let has_masq = save
                .lines()
                .any(|l| l.starts_with(&format!("-A {chain} ")) && l.contains("-j MASQUERADE"));
            let has_jump = save
                .lines()
                .any(|l| l.starts_with("-A POSTROUTING ") && l.ends_with(&format!("-j {chain}")));
            if !(has_chain && has_masq && has_jump) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn check_alive(&mut self) -> Result<(), String> {
        match self.running.as_mut() {
            None => Err("the implementation has not been started".into()),
            Some(r) => match r.exited() {
                Some(status) => Err(format!("the implementation exited ({status})")),
                None => Ok(()),
            },
        }
    }

    fn wait(&mut self, w: &Wait) -> Result<(), String> {
        let chain = self.spec.fixture.chain();
        let outcomes_only = self.spec.profile.readiness == Readiness::Outcomes;
        match w {
            Wait::Rules if outcomes_only => self.wait_outcomes_stable(),
            Wait::Rules => {
                let deadline = Instant::now() + READY_TIMEOUT;
                loop {
                    self.check_alive()?;
                    if self.rules_in_place(&chain)? {
                        return Ok(());
                    }
                    if Instant::now() >= deadline {
                        return Err(format!(
                            "timed out after {READY_TIMEOUT:?} waiting for chain {chain} with a MASQUERADE rule and a POSTROUTING jump to it in the nat table{}; the table was:\n{}",
                            if self.ipv6() { " (IPv4 and IPv6)" } else { "" },
                            self.current_rules().unwrap_or_default()
                        ));
                    }
                    std::thread::sleep(POLL);
                }
            }
            Wait::RulesChanged if outcomes_only => self.wait_outcomes_changed(),
            Wait::RulesChanged => {
                let baseline = self.baseline.clone().ok_or(
                    "wait: rules-changed cannot follow a tamper step (the implementation may heal before the runner looks); wait with `rules`",
                )?;
                let timeout = READY_TIMEOUT.max(self.resync.unwrap_or_default() * 4);
                let deadline = Instant::now() + timeout;
                loop {
                    self.check_alive()?;
                    if self.current_rules()? != baseline {
                        return Ok(());
                    }
                    if Instant::now() >= deadline {
                        return Err(format!(
                            "timed out after {timeout:?} waiting for the nat table to change from:\n{baseline}"
                        ));
                    }
                    std::thread::sleep(POLL);
                }
            }
            Wait::Resyncs(n) => {
                let interval = self.resync.ok_or(
                    "wait: resyncs needs a resync interval: set resyncInterval in a config step or resync_interval in the fixture",
                )?;
                let total = interval * *n;
                if total > Duration::from_secs(60) {
                    return Err(format!(
                        "wait: resyncs would wait {total:?}; at most 60s is allowed"
                    ));
                }
                std::thread::sleep(total);
                self.check_alive()
            }
        }
    }

    fn wait_outcomes_stable(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let targets = standard_targets();
        let mut last = self.probe(&targets, &Proto::ALL)?;
        loop {
            self.check_alive()?;
            let next = self.probe(&targets, &Proto::ALL)?;
            if next == last {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {READY_TIMEOUT:?} waiting for probe outcomes to settle"
                ));
            }
            last = next;
        }
    }

    fn wait_outcomes_changed(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let targets = standard_targets();
        let before = self.out.tables.last().cloned().ok_or(
            "wait: rules-changed on an outcomes-only implementation needs an earlier probe step",
        )?;
        loop {
            self.check_alive()?;
            if self.probe(&targets, &Proto::ALL)? != before {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {READY_TIMEOUT:?} waiting for probe outcomes to change"
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    fn all_targets(&self) -> Vec<Target> {
        let mut t = standard_targets();
        t.extend(self.extra_targets());
        t
    }

    fn extra_targets(&self) -> Vec<Target> {
        self.spec
            .fixture
            .destinations
            .iter()
            .map(|d| Target {
                name: d.name.clone(),
                address: d.address,
            })
            .collect()
    }

    fn select(&self, sel: &ProbeSelection) -> Result<Vec<Target>, String> {
        Ok(match sel {
            ProbeSelection::Named(ProbeSet::Default) => standard_targets(),
            ProbeSelection::Named(ProbeSet::Extra) => self.extra_targets(),
            ProbeSelection::Named(ProbeSet::All) => self.all_targets(),
            ProbeSelection::Explicit { destinations, .. } => {
                let all = self.all_targets();
                destinations
                    .iter()
                    .map(|n| {
                        all.iter()
                            .find(|t| &t.name == n)
                            .cloned()
                            .ok_or_else(|| format!("probe: unknown destination {n:?}"))
                    })
                    .collect::<Result<_, _>>()?
            }
        })
    }

    fn probe(&mut self, targets: &[Target], protos: &[Proto]) -> Result<OutcomeTable, String> {
        let mut specs = Vec::new();
        for t in targets {
            for p in protos {
                specs.push(ProbeSpec {
                    address: t.address,
                    proto: *p,
                });
            }
        }
        let deadline = Instant::now() + PROBE_TIMEOUT;
        let tokens = probe::send_from_pod(self.sandbox.pod.file(), &specs, PROBE_TIMEOUT)
            .map_err(|e| e.to_string())?;
        let seen = self.receivers.wait_for(
            &tokens,
            deadline.max(Instant::now() + Duration::from_millis(200)),
        );
        let mut rows = Vec::new();
        let mut i = 0;
        for t in targets {
            let mut outcomes = BTreeMap::new();
            for p in protos {
                let outcome = seen
                    .get(&tokens[i])
                    .map(|a| probe::classify(*a))
                    .unwrap_or(Outcome::Dropped);
                outcomes.insert(*p, outcome);
                i += 1;
            }
            rows.push(OutcomeRow {
                name: t.name.clone(),
                address: t.address,
                outcomes,
            });
        }
        Ok(OutcomeTable { rows })
    }

    fn tamper(&mut self, t: Tamper) -> Result<(), String> {
        let chain = self.spec.fixture.chain();
        let tables = self.tables();
        let families = self.families();
        for &v6 in families {
            let e = |e: crate::iptables::IptablesError| e.to_string();
            match t {
                Tamper::FlushChain => {
                    tables.nat(v6, &["-F", &chain]).map_err(e)?;
                }
                Tamper::DeleteJump | Tamper::DeleteChain => {
                    let save = tables.save_nat(v6).map_err(e)?;
                    for line in save.lines() {
                        if line.starts_with("-A POSTROUTING ")
                            && line.ends_with(&format!("-j {chain}"))
                        {
                            let args = split_rule(&line[3..]);
                            let mut del = vec!["-D"];
                            del.extend(args.iter().map(String::as_str));
                            tables.nat(v6, &del).map_err(e)?;
                        }
                    }
                    if t == Tamper::DeleteChain {
                        tables.nat(v6, &["-F", &chain]).map_err(e)?;
                        tables.nat(v6, &["-X", &chain]).map_err(e)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn preload(&mut self, lines: &[String]) -> Result<(), String> {
        let tables = self.tables();
        for line in lines {
            let args = split_rule(line);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            tables
                .nat(false, &args)
                .map_err(|e| format!("preload {line:?}: {e}"))?;
        }
        Ok(())
    }

    fn conntrack_flush(&mut self) -> Result<(), String> {
        let mut cmd = crate::netns::command_in(self.sandbox.node.file(), "conntrack")
            .map_err(|e| e.to_string())?;
        let out = cmd
            .arg("-F")
            .output()
            .map_err(|e| format!("running conntrack -F (is conntrack installed?): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "conntrack -F failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }

    fn flow_open(&mut self, f: &fixture::FlowRef) -> Result<(), String> {
        let dest = f
            .destination
            .as_ref()
            .ok_or("flow-open needs a destination")?;
        let target = self
            .all_targets()
            .into_iter()
            .find(|t| &t.name == dest)
            .ok_or_else(|| format!("flow-open: unknown destination {dest:?}"))?;
        let domain = if target.address.is_ipv6() {
            Domain::IPV6
        } else {
            Domain::IPV4
        };
        let socket = crate::netns::in_ns(self.sandbox.pod.file(), || {
            Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("flow socket: {e}"))?;
        socket
            .connect(&SocketAddr::new(target.address, probe::PROBE_PORT).into())
            .map_err(|e| format!("flow connect: {e}"))?;
        self.flows.insert(f.name.clone(), Flow { socket, target });
        self.flow_probe(f)
    }

    fn flow_probe(&mut self, f: &fixture::FlowRef) -> Result<(), String> {
        let flow = self
            .flows
            .get(&f.name)
            .ok_or_else(|| format!("no open flow named {:?}", f.name))?;
        let token = probe::next_token();
        let _ = flow.socket.send(format!("mcnf-probe:{token}\n").as_bytes());
        let seen = self
            .receivers
            .wait_for(&[token], Instant::now() + PROBE_TIMEOUT);
        let outcome = seen
            .get(&token)
            .map(|a| probe::classify(*a))
            .unwrap_or(Outcome::Dropped);
        self.out.tables.push(OutcomeTable {
            rows: vec![OutcomeRow {
                name: format!("flow {}", f.name),
                address: flow.target.address,
                outcomes: BTreeMap::from([(Proto::Udp, outcome)]),
            }],
        });
        Ok(())
    }

    fn terminate(&mut self) -> Result<(), String> {
        let r = self
            .running
            .as_mut()
            .ok_or("terminate: the implementation is not running")?;
        let status = r.signal_and_wait(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(5));
        self.terminated = status.is_some();
        // SPEC.md asks only that it exits and leaves its rules; the exit status (0 from a
        // handler, or death by the signal) is not part of the contract.
        let line = match status {
            Some(_) => "exited within 5s after SIGTERM",
            None => "still running 5s after SIGTERM",
        };
        writeln!(
            self.out.document,
            "## terminate after step {}\n{line}",
            self.step_no
        )
        .ok();
        Ok(())
    }

    fn snapshot_part(&mut self, part: SnapshotPart) -> Result<(), String> {
        let n = self.step_no;
        let chain = self.spec.fixture.chain();
        match part {
            SnapshotPart::Outcome => {
                let table = self
                    .out
                    .tables
                    .last()
                    .ok_or("snapshot: outcome needs an earlier probe step")?;
                let text = table.render();
                write!(
                    self.out.document,
                    "{} after step {n}\n{text}",
                    crate::snapshot::OUTCOME_MARK
                )
                .ok();
            }
            SnapshotPart::Rules => {
                let families = self.families();
                for &v6 in families {
                    let save = self.tables().save_nat(v6).map_err(|e| e.to_string())?;
                    let tool = if v6 {
                        "ip6tables-save"
                    } else {
                        "iptables-save"
                    };
                    write!(
                        self.out.document,
                        "{} ({tool} -t nat) after step {n}\n{}",
                        crate::snapshot::RULES_MARK,
                        nat_or_empty(crate::snapshot::normalize_save(&save))
                    )
                    .ok();
                }
            }
            SnapshotPart::Listing => {
                let families = self.families();
                for &v6 in families {
                    let tool = if v6 { "ip6tables" } else { "iptables" };
                    let text = match self.tables().list_chain(v6, &chain) {
                        Ok(t) => crate::snapshot::normalize_listing(&t),
                        // A missing chain is an observation, not a runner error.
                        Err(crate::iptables::IptablesError::Failed { stderr, .. }) => {
                            format!("error: {}\n", stderr.lines().next().unwrap_or(""))
                        }
                        Err(e) => return Err(e.to_string()),
                    };
                    write!(
                        self.out.document,
                        "{} ({tool} -t nat -L {chain} -n -v -x) after step {n}\n{text}",
                        crate::snapshot::LISTING_MARK
                    )
                    .ok();
                }
            }
            SnapshotPart::Iptables | SnapshotPart::All => unreachable!("expanded by parts()"),
        }
        Ok(())
    }
}

impl Runner<'_> {
    fn fault(&mut self, fault: &fixture::Fault) -> Result<(), String> {
        use fixture::Fault;
        // Captured before acting: the implementation may react before the runner looks.
        let before = self.current_rules().unwrap_or_default();
        let restore_tools = ["iptables-restore", "ip6tables-restore"];
        match fault {
            Fault::RestoreFailing => {
                let fail = ["/usr/bin/false", "/bin/false"]
                    .iter()
                    .map(Path::new)
                    .find(|p| p.exists())
                    .ok_or("fault: no `false` binary to stand in for iptables-restore")?;
                for tool in restore_tools {
                    replace_symlink(&self.shim_dir.join(tool), Some(fail))?;
                }
            }
            Fault::RestoreMissing => {
                for tool in restore_tools {
                    replace_symlink(&self.shim_dir.join(tool), None)?;
                }
            }
            Fault::LockHeld => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&self.lock_file)
                    .map_err(|e| format!("opening the xtables lock: {e}"))?;
                let held = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
                    .map_err(|(_, e)| format!("taking the xtables lock: {e}"))?;
                self.lock_holder = Some(held);
            }
            Fault::Cleared => {
                self.lock_holder = None;
                let real = self
                    .spec
                    .backend
                    .binary()
                    .ok_or("fault: the backend's binary vanished")?;
                for tool in restore_tools {
                    replace_symlink(&self.shim_dir.join(tool), Some(&real))?;
                }
            }
            Fault::Flap(flap) => return self.flap(flap),
        }
        self.baseline = Some(before);
        Ok(())
    }

    /// Alternates bad and good configs; records whether the nat table ever moved.
    fn flap(&mut self, flap: &fixture::Flap) -> Result<(), String> {
        let every = parse_go_duration(&flap.every).ok_or("fault: flap: every: not a duration")?;
        let total = parse_go_duration(&flap.duration).ok_or("fault: flap: for: not a duration")?;
        if total > Duration::from_secs(10) {
            return Err("fault: flap: for: at most 10s".into());
        }
        let good = fixture::config_content(&flap.good)?;
        let bad = fixture::config_content(&flap.bad)?;
        let before = self.current_rules()?;
        let deadline = Instant::now() + total;
        let (mut swaps, mut changed) = (0u32, 0u32);
        while Instant::now() < deadline {
            let content = if swaps % 2 == 0 { &bad } else { &good };
            self.volume
                .update(content)
                .map_err(|e| format!("publishing the config: {e}"))?;
            swaps += 1;
            std::thread::sleep(every);
            if self.current_rules()? != before {
                changed += 1;
            }
        }
        self.volume
            .update(&good)
            .map_err(|e| format!("publishing the config: {e}"))?;
        // Swap counts vary with machine speed; whether the table moved does not.
        writeln!(
            self.out.document,
            "## flap after step {}\nconfig flapped between good and bad every {}; nat table changed during flapping: {}",
            self.step_no,
            flap.every,
            if changed == 0 { "never" } else { "yes" }
        )
        .ok();
        let _ = swaps;
        self.baseline = Some(before);
        Ok(())
    }
}

/// Atomically points `link` at `target` (or removes it).
fn replace_symlink(link: &Path, target: Option<&Path>) -> Result<(), String> {
    let tmp = link.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    match target {
        Some(t) => std::os::unix::fs::symlink(t, &tmp)
            .and_then(|_| std::fs::rename(&tmp, link))
            .map_err(|e| format!("replacing {}: {e}", link.display())),
        None => match std::fs::remove_file(link) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("removing {}: {e}", link.display())),
        },
    }
}

fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Config(_) => "config",
        Step::Start(_) => "start",
        Step::Wait(_) => "wait",
        Step::Probe(_) => "probe",
        Step::Tamper(_) => "tamper",
        Step::Preload(_) => "preload",
        Step::ConntrackFlush(_) => "conntrack-flush",
        Step::FlowOpen(_) => "flow-open",
        Step::FlowProbe(_) => "flow-probe",
        Step::Terminate(_) => "terminate",
        Step::Snapshot(_) => "snapshot",
        Step::Fault(_) => "fault",
    }
}

/// A nat table the kernel never instantiated in the namespace (nothing touched it yet)
/// prints nothing; it behaves exactly like an empty one, so it is shown as one. Whether
/// an implementation happened to touch the table without writing rules is not a
/// behaviour the suite asserts.
fn nat_or_empty(save: String) -> String {
    if save.trim().is_empty() {
        "*nat\n:PREROUTING ACCEPT\n:INPUT ACCEPT\n:OUTPUT ACCEPT\n:POSTROUTING ACCEPT\nCOMMIT\n"
            .into()
    } else {
        save
    }
}

/// Splits an iptables-save rule into arguments, honouring double quotes.
pub fn split_rule(rule: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    args.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        args.push(cur);
    }
    args
}

/// The resyncInterval of a config mapping (key matched case-insensitively).
fn resync_of(value: &serde_json::Value) -> Option<Duration> {
    let map = value.as_object()?;
    let v = map
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case("resyncInterval"))?
        .1;
    parse_go_duration(v.as_str()?)
}

/// Parses the subset of Go duration syntax fixtures use (`300ms`, `1.5s`, `1m30s`).
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_split_like_a_shell_would() {
        assert_eq!(
            split_rule(r#"POSTROUTING -m comment --comment "a \"b\" c" -j X"#),
            vec![
                "POSTROUTING",
                "-m",
                "comment",
                "--comment",
                "a \"b\" c",
                "-j",
                "X"
            ]
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("30"), None);
    }

    #[test]
    fn standard_targets_avoid_the_sandbox_except_the_node() {
        for t in standard_targets() {
            assert_eq!(
                topology::reserved(t.address),
                t.name.starts_with("node"),
                "{}",
                t.name
            );
        }
    }
}
