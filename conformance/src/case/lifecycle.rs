//! The implementation's life in a case: started once, checked for liveness at every
//! wait and after every step, terminated only when a fixture says so.

use crate::document::Section;
use std::time::{Duration, Instant};

use super::error::StepError;
use super::CaseExecution;
use crate::implementation::{Running, StartOptions};
use crate::limits::LimitWatch;

/// How long a `terminate` step gives the implementation to exit after SIGTERM.
const TERMINATE_GRACE: Duration = Duration::from_secs(5);

/// The implementation process of a case, if started.
#[derive(Default)]
pub struct Lifecycle {
    pub running: Option<Running>,
    /// Set by a `terminate` step: the implementation is expected to be gone from then on.
    pub terminated: bool,
    /// The case's limits, read at every liveness check once it started.
    pub limits: Option<LimitWatch>,
    /// Its output file, kept for a restart to append to.
    pub log: Option<std::fs::File>,
}

impl Lifecycle {
    /// Fails if the implementation is not running (never started, or exited), or ran
    /// into one of the case's limits (what it does from then on proves nothing).
    pub fn check_alive(&mut self) -> Result<(), StepError> {
        if let Some(watch) = &self.limits {
            if let Some(hit) = watch.hit() {
                let seen = watch.seen(hit);
                return Err(StepError::Limit { hit, seen });
            }
        }
        let running = self.running.as_mut().ok_or(StepError::NotStarted)?;
        match running.exited() {
            Some(status) => Err(StepError::Exited(status)),
            None => Ok(()),
        }
    }

    /// Fails if the implementation exited without a `terminate` step asking it to.
    pub fn check_not_exited_unexpectedly(&mut self) -> Result<(), StepError> {
        match self.running.as_mut().and_then(Running::exited) {
            Some(status) if !self.terminated => Err(StepError::Exited(status)),
            _ => Ok(()),
        }
    }
}

impl CaseExecution<'_> {
    pub(super) fn start(&mut self) -> Result<(), StepError> {
        if self.implementation.running.is_some() {
            return Err(StepError::AlreadyRunning);
        }
        let t = Instant::now();
        let flags = self.start_flags();
        let running = Running::start(StartOptions {
            profile: self.spec.profile,
            node: self.node.sandbox.node.file(),
            backend: self.spec.backend,
            flags: &flags,
            env: &self.adapter.rendered.env,
            log: self.implementation.log.as_ref(),
            volume: self.node.volume.dir(),
            scratch: &self.node.sandbox.scratch,
            shim_dir: &self.node.shim_dir,
            lock_file: &self.node.lock_file,
            tool_dir: self.node.tool_dir.as_deref(),
            limits: self.node.sandbox.limits.child_plan(),
        })?;
        if self.implementation.log.is_none() {
            // A restart appends to the same output, watched once.
            self.node.sandbox.limits.watch_output(running.log_file());
            self.implementation.log = running.log_file().try_clone().ok();
        }
        self.adapter.started_at = Some(Instant::now());
        self.implementation.limits = Some(self.node.sandbox.limits.watch());
        self.implementation.running = Some(running);
        self.out.timings.add("implementation start", t.elapsed());
        Ok(())
    }

    pub(super) fn terminate(&mut self) -> Result<(), StepError> {
        let r = self
            .implementation
            .running
            .as_mut()
            .ok_or(StepError::NotStarted)?;
        let status = r.signal_and_wait(nix::sys::signal::Signal::SIGTERM, TERMINATE_GRACE);
        self.implementation.terminated = status.is_some();
        // docs/spec.md asks only that it exits and leaves its rules; the exit status (0
        // from a handler, or death by the signal) is not part of the contract.
        let line = match status {
            Some(_) => "exited within 5s after SIGTERM",
            None => "still running 5s after SIGTERM",
        };
        self.out.document.push(Section::note(
            "terminate",
            self.step_no,
            format!("{line}\n"),
        ));
        Ok(())
    }
}
