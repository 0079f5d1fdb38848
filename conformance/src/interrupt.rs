//! SIGINT and SIGTERM end a run as its normal end does: everything it made is removed.
//!
//! Without this, an interrupted run left its namespaces, mounts, scratch directories and
//! cgroups until the next run's sweep (48 namespaces after one Ctrl-C). The signals are
//! blocked in the main thread before any other thread starts, so every thread inherits
//! the mask and only the dedicated thread receives them (`sigwait`): no async-signal
//! safety to think about. On the first signal it stops new cases from being created,
//! removes this run's names twice (a case mid-creation during the first pass is caught
//! by the second), says what it removed, and exits 128 + the signal (130, 143).

use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};

use crate::names;

/// Blocks SIGINT and SIGTERM in the calling thread and starts the thread that handles
/// them. Call first thing in `main`, before any other thread exists.
pub fn install() -> std::io::Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.thread_block().map_err(std::io::Error::from)?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let signal = set.wait().unwrap_or(Signal::SIGTERM);
            std::process::exit(clean_up(signal));
        })?;
    Ok(())
}

/// Called by a run's main thread when its trials are over: if a signal is being handled,
/// the cases ended because their sandboxes were removed, and nothing of the run (report,
/// summary) may be published as if it had run: wait for the handling thread to exit the
/// process (bounded; it sleeps a fraction of this).
pub fn wait_if_stopping() {
    if !names::stopping() {
        return;
    }
    std::thread::sleep(Duration::from_secs(60));
    eprintln!("masq-conformance: the signal's cleanup did not end within 60s");
    std::process::exit(1);
}

/// Removes everything of this run; returns the exit code for `signal`.
fn clean_up(signal: Signal) -> i32 {
    names::stop_creating();
    eprintln!("masq-conformance: {signal}: removing everything this run made");
    let mut swept = names::sweep_own();
    // Cases that had passed the check before it was set finish creating within moments.
    std::thread::sleep(Duration::from_millis(200));
    let again = names::sweep_own();
    swept.namespaces.extend(again.namespaces);
    swept.processes.extend(again.processes);
    swept.directories.extend(again.directories);
    swept.cgroups.extend(again.cgroups);
    names::remove_run_scratch();
    eprintln!("masq-conformance: {signal}: removed {swept}");
    128 + signal as i32
}
