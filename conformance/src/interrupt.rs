//! SIGINT and SIGTERM end a run as its normal end does: everything it made is removed.
//!
//! Without this, an interrupted run left its namespaces, mounts, scratch directories and
//! cgroups until the next run's sweep (48 namespaces after one Ctrl-C). The handler only
//! writes the signal's number to a pipe (async-signal-safe); a dedicated thread reads it
//! and does the work. Not a blocked mask and `sigwait`: a mask is inherited through fork
//! and exec, so every implementation would start with SIGTERM blocked and never see a
//! `terminate` step's signal; a handler is reset to the default by exec. On the first
//! signal the thread stops new cases from being created, removes this run's names twice
//! (a case mid-creation during the first pass is caught by the second), says what it
//! removed, and exits 128 + the signal (130, 143).

use std::io::Read as _;
use std::os::fd::IntoRawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use nix::libc;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use crate::names;

/// The pipe's write end, for the handler.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let byte = signal as u8;
    // SAFETY: write(2) is async-signal-safe; a full pipe only loses a repeated signal.
    unsafe {
        libc::write(
            WRITE_FD.load(Ordering::Relaxed),
            (&byte as *const u8).cast(),
            1,
        )
    };
}

/// Installs the SIGINT and SIGTERM handler and starts the thread that acts on them.
pub fn install() -> std::io::Result<()> {
    let (read, write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)?;
    WRITE_FD.store(write.into_raw_fd(), Ordering::SeqCst);
    let mut read = std::fs::File::from(read);
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut byte = [0u8; 1];
            if read.read_exact(&mut byte).is_err() {
                return; // cannot happen while the write end is open: never act on it
            }
            let signal = Signal::try_from(i32::from(byte[0])).unwrap_or(Signal::SIGTERM);
            std::process::exit(clean_up(signal));
        })?;
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only calls write(2).
        unsafe { sigaction(signal, &action) }.map_err(std::io::Error::from)?;
    }
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
    for list in [&mut swept.directories, &mut swept.cgroups] {
        list.sort();
        list.dedup();
    }
    swept.namespaces.sort();
    swept.namespaces.dedup();
    eprintln!("masq-conformance: {signal}: removed {swept}");
    128 + signal as i32
}
