//! The three calls of Linux's new mount API the sandbox needs (5.2+, `mount_setattr`
//! 5.12+), as raw system calls usable between fork and exec: `open_tree` detaches a copy
//! of a mount (so a directory can be carried across a tmpfs mounted over its parent),
//! `move_mount` attaches it elsewhere, `mount_setattr` makes a whole tree read-only in
//! one call.

use std::ffi::CStr;
use std::os::fd::RawFd;

use nix::libc;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn last_errno() -> std::io::Error {
    std::io::Error::from_raw_os_error(nix::errno::Errno::last_raw())
}

/// A detached copy of the mount tree at `path` (close-on-exec).
///
/// # Safety
/// Raw system call; no allocation.
pub unsafe fn clone_tree(path: &CStr) -> std::io::Result<RawFd> {
    let fd = libc::syscall(
        libc::SYS_open_tree,
        libc::AT_FDCWD,
        path.as_ptr(),
        OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | AT_RECURSIVE,
    );
    if fd < 0 {
        return Err(last_errno());
    }
    Ok(fd as RawFd)
}

/// Attaches the detached tree `fd` at `target`, then closes `fd`.
///
/// # Safety
/// Raw system calls; no allocation.
pub unsafe fn attach(fd: RawFd, target: &CStr) -> std::io::Result<()> {
    let rc = libc::syscall(
        libc::SYS_move_mount,
        fd,
        c"".as_ptr(),
        libc::AT_FDCWD,
        target.as_ptr(),
        MOVE_MOUNT_F_EMPTY_PATH,
    );
    let result = if rc == 0 { Ok(()) } else { Err(last_errno()) };
    libc::close(fd);
    result
}

/// Sets `attrs` (`MOUNT_ATTR_*`) on the mount at `path`, and on every mount below it when
/// `recursive`.
///
/// # Safety
/// Raw system call; no allocation.
pub unsafe fn set_attributes(path: &CStr, attrs: u64, recursive: bool) -> std::io::Result<()> {
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = if recursive { AT_RECURSIVE } else { 0 };
    let rc = libc::syscall(
        libc::SYS_mount_setattr,
        libc::AT_FDCWD,
        path.as_ptr(),
        flags,
        &attr as *const MountAttr,
        std::mem::size_of::<MountAttr>(),
    );
    if rc == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}
