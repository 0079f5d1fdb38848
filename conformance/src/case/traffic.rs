//! Traffic: probe steps (from the pod, the node or the world: [`crate::vocabulary::direction`]),
//! long-lived flows and conntrack.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::error::StepError;
use super::CaseExecution;
use crate::fixture::targets::{all_targets, selected_protocols, selected_targets};
use crate::fixture::{FlowRef, ProbeSelection};
use crate::probe;
use crate::probe::{ProbeSpec, Receivers};
use crate::vocabulary::Direction;
use crate::vocabulary::{Outcome, Proto};
use crate::vocabulary::{OutcomeRow, OutcomeTable, Target};

/// How long a probe may take to arrive before it counts as dropped.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// A flow opened by `flow-open`: one socket, reused by `flow-probe`.
struct Flow {
    socket: Socket,
    target: Target,
}

/// The receivers in `world` and `node`, and the open flows.
pub struct Traffic {
    pub receivers: Receivers,
    flows: HashMap<String, Flow>,
}

impl Traffic {
    pub fn new(receivers: Receivers) -> Self {
        Self {
            receivers,
            flows: HashMap::new(),
        }
    }
}

impl CaseExecution<'_> {
    pub(super) fn probe_step(&mut self, sel: &ProbeSelection) -> Result<(), StepError> {
        let t = Instant::now();
        let table = self.probe_selection(sel)?;
        self.out.tables.push(table);
        self.out.timings.add("probes", t.elapsed());
        Ok(())
    }

    /// Probes what a probe step selects (without recording it).
    pub(super) fn probe_selection(
        &mut self,
        sel: &ProbeSelection,
    ) -> Result<OutcomeTable, StepError> {
        let targets = selected_targets(self.spec.fixture, sel);
        self.probe_from(sel.direction(), &targets, &selected_protocols(sel))
    }

    /// Sends one new flow from the pod per target and protocol, and tables what arrived.
    pub(super) fn probe(
        &mut self,
        targets: &[Target],
        protos: &[Proto],
    ) -> Result<OutcomeTable, StepError> {
        self.probe_from(Direction::Pod, targets, protos)
    }

    /// [`Self::probe`] from `direction`: each row's flow starts from the namespace and
    /// address the direction says, and the receiver's view is classified by it.
    fn probe_from(
        &mut self,
        direction: Direction,
        targets: &[Target],
        protos: &[Proto],
    ) -> Result<OutcomeTable, StepError> {
        let specs: Vec<ProbeSpec> = targets
            .iter()
            .flat_map(|t| {
                let (source, address) = direction.endpoints(t.address);
                protos.iter().map(move |p| ProbeSpec {
                    address,
                    proto: *p,
                    source,
                })
            })
            .collect();
        let sandbox = &self.node.sandbox;
        let from = match direction {
            Direction::Pod => &sandbox.pod,
            Direction::NodePodAddress | Direction::NodeMainAddress => &sandbox.node,
            Direction::World => &sandbox.world,
        };
        let deadline = Instant::now() + PROBE_TIMEOUT;
        let tokens = probe::send_in(from.file(), &specs, PROBE_TIMEOUT)?;
        let seen = self.traffic.receivers.arrivals(
            &tokens,
            deadline.max(Instant::now() + Duration::from_millis(200)),
        );
        // docs/spec.md §3/§4.3: with --to-ports, translated tcp and udp source ports come
        // from the ranges; with --random-fully they are random.
        let flags = self.spec.fixture.typed_flags.clone().unwrap_or_default();
        let in_range = |port: u16| flags.to_ports.iter().any(|r| r.contains(&port));
        let mut tokens = tokens.iter();
        let mut rows: Vec<OutcomeRow> = targets
            .iter()
            .map(|t| {
                let mut notes = BTreeMap::new();
                let outcomes = protos
                    .iter()
                    .map(|p| {
                        let token = tokens.next().expect("one token per probe");
                        let arrival = seen.get(token);
                        let outcome = arrival
                            .map(|a| direction.classify(t.address, a.address))
                            .unwrap_or(Outcome::Dropped);
                        if let (Outcome::Masqueraded, Some(port)) =
                            (outcome, arrival.and_then(|a| a.port))
                        {
                            if !flags.to_ports.is_empty() && !in_range(port) {
                                notes.insert(*p, format!("port-{port}-not-in-to-ports"));
                            }
                        }
                        (*p, outcome)
                    })
                    .collect();
                OutcomeRow {
                    name: t.name.clone(),
                    address: t.address,
                    outcomes,
                    notes,
                }
            })
            .collect();
        let port_count: usize = flags.to_ports.iter().map(|r| r.len()).sum();
        // The spread check sends from the pod's sockets: pod flows only.
        if flags.random_fully && port_count > 1 && direction == Direction::Pod {
            self.check_spread(&mut rows, &in_range)?;
        }
        Ok(OutcomeTable { rows, direction })
    }

    /// `--random-fully` with `--to-ports`: several flows from one source port to the first
    /// masqueraded udp destination must leave from more than one translated port, each in
    /// the ranges. A failure is written into that cell, so the table shows it.
    fn check_spread(
        &mut self,
        rows: &mut [OutcomeRow],
        in_range: &dyn Fn(u16) -> bool,
    ) -> Result<(), StepError> {
        let Some(row) = rows
            .iter_mut()
            .find(|r| r.outcomes.get(&Proto::Udp) == Some(&Outcome::Masqueraded))
        else {
            return Ok(());
        };
        let source_port = probe::spread_source_port(probe::next_token());
        let tokens =
            probe::send_spread_from_pod(self.node.sandbox.pod.file(), row.address, source_port)?;
        let seen = self
            .traffic
            .receivers
            .arrivals(&tokens, Instant::now() + PROBE_TIMEOUT);
        let ports: std::collections::BTreeSet<u16> = seen.values().filter_map(|a| a.port).collect();
        let note = if seen.len() < tokens.len() {
            Some(format!(
                "only-{}-of-{}-flows-from-one-source-port-arrived",
                seen.len(),
                tokens.len()
            ))
        } else if let Some(p) = ports.iter().find(|p| !in_range(**p)) {
            Some(format!("port-{p}-not-in-to-ports"))
        } else if ports.len() < 2 {
            Some(format!(
                "{}-flows-from-one-source-port-all-left-from-port-{}-not-random",
                tokens.len(),
                ports.first().copied().unwrap_or(0)
            ))
        } else {
            None
        };
        if let Some(note) = note {
            row.notes.insert(Proto::Udp, note);
        }
        Ok(())
    }

    pub(super) fn conntrack_flush(&mut self) -> Result<(), StepError> {
        let mut cmd = crate::netns::command_in(self.node.sandbox.node.file(), "conntrack")?;
        let child = {
            let _spawning = crate::forks::spawning();
            cmd.arg("-F")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
        };
        let out = child
            .and_then(|c| {
                crate::netns::output_within(c, None, crate::netns::TOOL_DEADLINE, "conntrack -F")
            })
            .map_err(|e| StepError::io("running conntrack -F (is conntrack installed?)", e))?;
        if !out.status.success() {
            return Err(StepError::Tool {
                command: "conntrack -F".into(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(())
    }

    pub(super) fn flow_open(&mut self, f: &FlowRef) -> Result<(), StepError> {
        let dest = f.destination.as_deref().unwrap_or_default();
        let target = all_targets(self.spec.fixture)
            .into_iter()
            .find(|t| t.name == dest)
            .ok_or_else(|| StepError::Misuse(format!("flow-open: unknown destination {dest:?}")))?;
        let domain = if target.address.is_ipv6() {
            Domain::IPV6
        } else {
            Domain::IPV4
        };
        let socket = crate::netns::in_ns(self.node.sandbox.pod.file(), || {
            Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
        })?
        .map_err(|e| StepError::io("flow socket", e))?;
        socket
            .connect(&SocketAddr::new(target.address, probe::PROBE_PORT).into())
            .map_err(|e| StepError::io("flow connect", e))?;
        self.traffic
            .flows
            .insert(f.name.clone(), Flow { socket, target });
        self.flow_probe(f)
    }

    pub(super) fn flow_probe(&mut self, f: &FlowRef) -> Result<(), StepError> {
        let flow = self
            .traffic
            .flows
            .get(&f.name)
            .ok_or_else(|| StepError::Misuse(format!("no open flow named {:?}", f.name)))?;
        let token = probe::next_token();
        let _ = flow.socket.send(format!("mcnf-probe:{token}\n").as_bytes());
        let seen = self
            .traffic
            .receivers
            .wait_for(&[token], Instant::now() + PROBE_TIMEOUT);
        let outcome = seen
            .get(&token)
            .map(|a| crate::vocabulary::direction::classify(*a))
            .unwrap_or(Outcome::Dropped);
        let row = OutcomeRow {
            name: format!("flow {}", f.name),
            address: flow.target.address,
            outcomes: BTreeMap::from([(Proto::Udp, outcome)]),
            notes: BTreeMap::new(),
        };
        self.out.tables.push(OutcomeTable {
            rows: vec![row],
            direction: Direction::Pod,
        });
        Ok(())
    }
}
