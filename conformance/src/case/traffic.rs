//! Traffic: probe steps, long-lived flows and conntrack, all from the pod.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::error::StepError;
use super::outcome::{
    all_targets, extra_targets, standard_targets, OutcomeRow, OutcomeTable, Target,
};
use super::Runner;
use crate::fixture::{FlowRef, ProbeSelection, ProbeSet};
use crate::probe::{self, Outcome, ProbeSpec, Proto, Receivers};

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

impl Runner<'_> {
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
        let targets = self.select(sel);
        let protos = match sel {
            ProbeSelection::Explicit {
                protocols: Some(p), ..
            } => p.clone(),
            _ => Proto::ALL.to_vec(),
        };
        self.probe(&targets, &protos)
    }

    /// The destinations a probe step names (checked when the fixture loaded).
    fn select(&self, sel: &ProbeSelection) -> Vec<Target> {
        let fixture = self.spec.fixture;
        match sel {
            ProbeSelection::Named(ProbeSet::Default) => standard_targets(),
            ProbeSelection::Named(ProbeSet::Extra) => extra_targets(fixture),
            ProbeSelection::Named(ProbeSet::All) => all_targets(fixture),
            ProbeSelection::Explicit { destinations, .. } => {
                let all = all_targets(fixture);
                destinations
                    .iter()
                    .filter_map(|n| all.iter().find(|t| &t.name == n).cloned())
                    .collect()
            }
        }
    }

    /// Sends one new flow per target and protocol, and tables what arrived.
    pub(super) fn probe(
        &mut self,
        targets: &[Target],
        protos: &[Proto],
    ) -> Result<OutcomeTable, StepError> {
        let specs: Vec<ProbeSpec> = targets
            .iter()
            .flat_map(|t| {
                protos.iter().map(|p| ProbeSpec {
                    address: t.address,
                    proto: *p,
                })
            })
            .collect();
        let deadline = Instant::now() + PROBE_TIMEOUT;
        let tokens = probe::send_from_pod(self.node.sandbox.pod.file(), &specs, PROBE_TIMEOUT)?;
        let seen = self.traffic.receivers.wait_for(
            &tokens,
            deadline.max(Instant::now() + Duration::from_millis(200)),
        );
        let mut tokens = tokens.iter();
        let rows = targets
            .iter()
            .map(|t| {
                let outcomes = protos
                    .iter()
                    .map(|p| {
                        let token = tokens.next().expect("one token per probe");
                        let outcome = seen
                            .get(token)
                            .map(|a| probe::classify(*a))
                            .unwrap_or(Outcome::Dropped);
                        (*p, outcome)
                    })
                    .collect();
                OutcomeRow {
                    name: t.name.clone(),
                    address: t.address,
                    outcomes,
                }
            })
            .collect();
        Ok(OutcomeTable { rows })
    }

    pub(super) fn conntrack_flush(&mut self) -> Result<(), StepError> {
        let mut cmd = crate::netns::command_in(self.node.sandbox.node.file(), "conntrack")?;
        let out = cmd
            .arg("-F")
            .output()
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
            .map(|a| probe::classify(*a))
            .unwrap_or(Outcome::Dropped);
        let row = OutcomeRow {
            name: format!("flow {}", f.name),
            address: flow.target.address,
            outcomes: BTreeMap::from([(Proto::Udp, outcome)]),
        };
        self.out.tables.push(OutcomeTable { rows: vec![row] });
        Ok(())
    }
}
