//! What holds the implementation under test: it is untrusted (docs/threat-model.md).
//!
//! Applied between fork and exec by the implementation's init (see
//! [`crate::implementation`]), after it entered the node's network namespace:
//! - its own mount, UTS, IPC and cgroup namespaces (its PID namespace is made by
//!   [`crate::pid_namespace`]);
//! - a read-only view of the host with private, bounded scratch space
//!   ([`filesystem`]);
//! - only the capabilities its profile grants, no_new_privs ([`capabilities`]): without
//!   CAP_SYS_ADMIN it cannot undo a mount or enter another namespace, without
//!   CAP_SYS_PTRACE it cannot reach a process, and the runner is not in its PID
//!   namespace at all.

pub mod capabilities;
pub mod filesystem;
mod mount_api;

use nix::sched::{unshare, CloneFlags};

pub use capabilities::CapabilitySet;
pub use filesystem::{check_config_path, FilesystemInputs, FilesystemPlan, LOCK_PATH};

/// Everything the child needs, prepared before the fork.
pub struct Confinement {
    pub filesystem: FilesystemPlan,
    pub capabilities: CapabilitySet,
    last_capability: u32,
}

impl Confinement {
    pub fn new(filesystem: FilesystemPlan, capabilities: CapabilitySet) -> Self {
        Confinement {
            filesystem,
            capabilities,
            last_capability: capabilities::last_capability(),
        }
    }

    /// Namespaces and filesystem: while CAP_SYS_ADMIN is still held.
    ///
    /// # Safety
    /// Only in a forked child before exec.
    pub unsafe fn enter(&self) -> std::io::Result<()> {
        unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC)
            .map_err(std::io::Error::from)?;
        self.filesystem.apply()?;
        // Last, after the case's cgroups were joined: its cgroup is its root.
        unshare(CloneFlags::CLONE_NEWCGROUP).map_err(std::io::Error::from)
    }

    /// The capabilities: after the last step that needs more than the profile grants.
    ///
    /// # Safety
    /// Only in a forked child before exec.
    pub unsafe fn drop_privileges(&self) -> std::io::Result<()> {
        capabilities::confine(self.capabilities, self.last_capability)
    }
}
