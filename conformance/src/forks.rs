//! Forks and the ConfigMap volume, kept apart. A child forked while another thread has a
//! config file open for writing inherits that descriptor, and the file is "closed after
//! writing" again when the child drops it — at its exec, or, for the implementation's
//! init (which never execs), whenever it gets to close it. An implementation that watches
//! its config directory (as the reference's successors do) sees that as a new write and
//! re-syncs at a moment the case did not choose. So the runner never forks while it
//! writes a config file: writers take this lock exclusively, forks share it.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static FILES_OPEN_FOR_WRITING: RwLock<()> = RwLock::new(());

/// Held while spawning a child (shared: spawns do not wait for each other).
pub fn spawning() -> RwLockReadGuard<'static, ()> {
    FILES_OPEN_FOR_WRITING
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Held while config files are open for writing (exclusive).
pub fn writing() -> RwLockWriteGuard<'static, ()> {
    FILES_OPEN_FOR_WRITING
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
