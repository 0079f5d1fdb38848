//! A ConfigMap volume, updated the way the kubelet does it.
//!
//! The kubelet never rewrites a key's file in place. It writes a new timestamped
//! directory, points a `..data_tmp` symlink at it, renames that over `..data` (an atomic
//! swap), makes sure `<key> -> ..data/<key>` exists, and deletes the old directory. A
//! watcher holding an inotify watch on the file itself sees it vanish; a reader that
//! re-opens the path each time sees old or new content, never a mix. The runner updates
//! the implementation's config exactly this way.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// What the config key holds after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// The key is absent from the ConfigMap: no file at the config path.
    Absent,
    /// The file's bytes.
    Bytes(Vec<u8>),
    /// A directory where the file should be.
    Directory,
    /// A path that exists but cannot be read by anyone, root included (a symlink loop).
    Unreadable,
}

/// A ConfigMap-style volume directory holding one key.
pub struct ConfigMapVolume {
    dir: PathBuf,
    key: String,
    generation: u32,
}

impl ConfigMapVolume {
    /// Creates an empty volume in `dir` for the file name `key`.
    pub fn create(dir: &Path, key: &str) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            key: key.to_string(),
            generation: 0,
        })
    }

    /// The volume directory (what is mounted at the config file's parent).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Publishes `content` with an atomic `..data` swap.
    pub fn update(&mut self, content: &Content) -> io::Result<()> {
        self.generation += 1;
        let data_dir_name = format!("..2026_01_01_00_00_00.{:09}", self.generation);
        let data_dir = self.dir.join(&data_dir_name);
        fs::create_dir(&data_dir)?;
        let file = data_dir.join(&self.key);
        match content {
            Content::Absent => {}
            Content::Bytes(bytes) => fs::write(&file, bytes)?,
            Content::Directory => fs::create_dir(&file)?,
            Content::Unreadable => symlink(&self.key, &file)?, // points at itself: ELOOP
        }
        let old_target = fs::read_link(self.dir.join("..data")).ok();
        let tmp = self.dir.join("..data_tmp");
        let _ = fs::remove_file(&tmp);
        symlink(&data_dir_name, &tmp)?;
        fs::rename(&tmp, self.dir.join("..data"))?;

        let visible = self.dir.join(&self.key);
        if content == &Content::Absent {
            let _ = fs::remove_file(&visible);
        } else if fs::symlink_metadata(&visible).is_err() {
            symlink(Path::new("..data").join(&self.key), &visible)?;
        }
        if let Some(old) = old_target {
            let old = self.dir.join(old);
            if old != data_dir {
                fs::remove_dir_all(old)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("configmap-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn swaps_data_and_keeps_one_generation() {
        let dir = scratch("swap");
        let mut vol = ConfigMapVolume::create(&dir, "ip-masq-agent").unwrap();
        vol.update(&Content::Bytes(b"a: 1\n".to_vec())).unwrap();
        assert_eq!(fs::read(dir.join("ip-masq-agent")).unwrap(), b"a: 1\n");
        vol.update(&Content::Bytes(b"a: 2\n".to_vec())).unwrap();
        assert_eq!(fs::read(dir.join("ip-masq-agent")).unwrap(), b"a: 2\n");
        let generations = fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("..2026")
            })
            .count();
        assert_eq!(generations, 1);
        assert!(fs::symlink_metadata(dir.join("ip-masq-agent"))
            .unwrap()
            .file_type()
            .is_symlink());

        vol.update(&Content::Absent).unwrap();
        assert!(fs::symlink_metadata(dir.join("ip-masq-agent")).is_err());
        vol.update(&Content::Directory).unwrap();
        assert!(fs::metadata(dir.join("ip-masq-agent")).unwrap().is_dir());
        vol.update(&Content::Unreadable).unwrap();
        let err = fs::read(dir.join("ip-masq-agent")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::ELOOP));
        fs::remove_dir_all(&dir).unwrap();
    }
}
