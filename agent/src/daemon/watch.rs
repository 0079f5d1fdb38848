//! Immediate reload: inotify on the config's directory wakes the loop
//! ([`Wake::ConfigChanged`]) as soon as the config may have changed; the resync interval
//! stays for healing drift.
//!
//! The kubelet publishes a ConfigMap volume by writing a new timestamped directory and
//! renaming a `..data` symlink over the old one; the config path is a symlink through
//! `..data`. So the directory *holding* the config is watched, not the file (a watch on
//! the file would follow the old inode and go quiet after the first swap). Also handled:
//! a file deleted and recreated, edited in place, and a directory that does not exist yet
//! (the nearest existing ancestor is watched until it appears). Only events that change
//! content or names are subscribed; the agent's own reads (`IN_OPEN`, `IN_ACCESS`) are not,
//! so reading cannot wake the loop. A regular file's `IN_CREATE` is skipped: the file is
//! still empty then, and its `IN_CLOSE_WRITE` follows.

use super::Wake;
use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

/// Events in the config's directory that may mean new content.
fn dir_mask() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_ONLYDIR
}

/// Events in an ancestor that may mean the missing directory appeared.
fn ancestor_mask() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_ONLYDIR
}

/// What is watched right now.
struct Watches {
    /// The config's directory, when it exists.
    dir: Option<WatchDescriptor>,
    /// The directory the config resolves to through symlinks, when it is another one.
    target: Option<(PathBuf, WatchDescriptor)>,
    /// The nearest existing ancestor, while the config's directory is missing.
    ancestor: Option<WatchDescriptor>,
}

/// Starts the watcher thread. It ends when the loop is gone (the channel is closed). An
/// inotify that cannot start is logged and leaves the agent on its resync interval.
pub fn spawn(config_path: &Path, wake: Sender<Wake>) {
    let path = absolute(config_path);
    let inotify = match Inotify::init(InitFlags::IN_CLOEXEC) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(
                "cannot watch the config's directory ({e}); changes apply at the next resync"
            );
            return;
        }
    };
    std::thread::spawn(move || {
        let mut w = Watches {
            dir: None,
            target: None,
            ancestor: None,
        };
        arm(&inotify, &path, &mut w);
        loop {
            let events = match inotify.read_events() {
                Ok(ev) => ev,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!("config watch failed ({e}); changes apply at the next resync");
                    return;
                }
            };
            let mut changed = false;
            let mut rearm = false;
            for ev in &events {
                let on_dir = Some(ev.wd) == w.dir;
                let on_target = w.target.as_ref().is_some_and(|(_, wd)| *wd == ev.wd);
                if ev.mask.intersects(
                    AddWatchFlags::IN_DELETE_SELF
                        | AddWatchFlags::IN_MOVE_SELF
                        | AddWatchFlags::IN_IGNORED,
                ) {
                    rearm = true;
                    changed |= on_dir;
                    continue;
                }
                if Some(ev.wd) == w.ancestor {
                    rearm = true;
                    changed = true;
                } else if on_dir || on_target {
                    let watched = if on_dir {
                        path.parent().map(Path::to_path_buf)
                    } else {
                        w.target.as_ref().map(|(t, _)| t.clone())
                    };
                    let full = watched.zip(ev.name.as_ref()).map(|(d, n)| d.join(n));
                    changed |= relevant(ev.mask, full);
                    // A swap may point the config at another directory.
                    rearm |= ev.mask.intersects(
                        AddWatchFlags::IN_MOVED_TO
                            | AddWatchFlags::IN_CREATE
                            | AddWatchFlags::IN_DELETE,
                    );
                }
            }
            if rearm {
                arm(&inotify, &path, &mut w);
            }
            if changed {
                tracing::debug!(?events, "config directory changed");
                if wake.send(Wake::ConfigChanged).is_err() {
                    return;
                }
            }
        }
    });
}

/// Whether an event in a watched directory may change what the config reads as: all but
/// the creation of a regular file, which is still empty then (its `IN_CLOSE_WRITE`
/// follows).
fn relevant(mask: AddWatchFlags, full: Option<PathBuf>) -> bool {
    if mask.contains(AddWatchFlags::IN_CREATE) && !mask.contains(AddWatchFlags::IN_ISDIR) {
        if let Some(meta) = full.and_then(|p| std::fs::symlink_metadata(p).ok()) {
            return !meta.file_type().is_file();
        }
    }
    true
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

/// (Re)places the watches for the current state of the filesystem.
fn arm(inotify: &Inotify, config: &Path, w: &mut Watches) {
    let dir = config.parent().unwrap_or(Path::new("/"));
    // inotify hands back the same descriptor for an inode already watched, so adding
    // again is cheap and idempotent; stale descriptors are dropped.
    match inotify.add_watch(dir, dir_mask()) {
        Ok(wd) => {
            w.dir = Some(wd);
            if let Some(a) = w.ancestor.take() {
                if Some(a) != w.dir {
                    let _ = inotify.rm_watch(a);
                }
            }
        }
        Err(_) => {
            w.dir = None;
            let mut up = dir.parent();
            while let Some(a) = up {
                if let Ok(wd) = inotify.add_watch(a, ancestor_mask()) {
                    if let Some(old) = w.ancestor.replace(wd) {
                        if old != wd {
                            let _ = inotify.rm_watch(old);
                        }
                    }
                    break;
                }
                up = a.parent();
            }
        }
    }
    // The directory the config resolves to. While it does not resolve (deleted, about
    // to be recreated) the current watch stays: its events are what tells us it is back.
    let Some(target_dir) = std::fs::canonicalize(config)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    else {
        return;
    };
    let wanted = std::fs::canonicalize(dir).ok().as_deref() != Some(target_dir.as_path());
    if w.target.as_ref().is_some_and(|(t, _)| *t == target_dir) && wanted {
        return;
    }
    if let Some((_, wd)) = w.target.take() {
        if Some(wd) != w.dir {
            let _ = inotify.rm_watch(wd);
        }
    }
    if wanted {
        if let Ok(wd) = inotify.add_watch(&target_dir, dir_mask()) {
            w.target = Some((target_dir, wd));
        }
    }
}
