//! A ConfigMap volume, updated the way the kubelet does it.
//!
//! The kubelet never rewrites a key's file in place. It writes a new timestamped
//! directory, points a `..data_tmp` symlink at it, renames that over `..data` (an atomic
//! swap), makes sure `<key> -> ..data/<key>` exists, and deletes the old directory. A
//! watcher holding an inotify watch on the file itself sees it vanish; a reader that
//! re-opens the path each time sees old or new content, never a mix. The runner updates
//! the implementation's config exactly this way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

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

/// A ConfigMap-style volume directory. Every update publishes the whole set of keys (a
/// key left out is absent from that version), as a ConfigMap edit does.
pub struct ConfigMapVolume {
    dir: PathBuf,
    /// The key the implementation's `config_path` names; [`Self::update`] publishes it.
    key: String,
    /// Every key the volume has held, so that a key left out of an update disappears.
    keys: BTreeSet<String>,
    generation: u32,
    /// The data directory `..data` points at, as the runner made it: never read back
    /// from the link, which the implementation could have re-pointed (the volume is
    /// read-only to it, but the runner does not rely on that).
    current: Option<String>,
    /// Drained every [`STAMP_EVERY`] by a thread of its own, so that each read is timed
    /// within that of when it happened, whatever the case is doing.
    reads: Arc<Mutex<ReadCounter>>,
    /// Stops the draining thread (set on drop).
    stop: Arc<AtomicBool>,
    stamper: Option<std::thread::JoinHandle<()>>,
    /// version -> when it was published.
    published: HashMap<u32, std::time::Instant>,
}

impl ConfigMapVolume {
    /// Creates an empty volume in `dir` for the file name `key`.
    pub fn create(dir: &Path, key: &str) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let reads = Arc::new(Mutex::new(ReadCounter::new()?));
        let stop = Arc::new(AtomicBool::new(false));
        let stamper = {
            let (reads, stop) = (Arc::clone(&reads), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("config-reads".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        reads.lock().unwrap_or_else(|p| p.into_inner()).drain();
                        std::thread::sleep(STAMP_EVERY);
                    }
                })?
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            key: key.to_string(),
            keys: BTreeSet::new(),
            generation: 0,
            current: None,
            reads,
            stop,
            stamper: Some(stamper),
            published: HashMap::new(),
        })
    }

    /// The read counter, drained up to now.
    fn counter(&self) -> MutexGuard<'_, ReadCounter> {
        let mut counter = self.reads.lock().unwrap_or_else(|p| p.into_inner());
        counter.drain();
        counter
    }

    /// The volume directory (what is mounted at the config file's parent).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The number of the version last published (1 for the first).
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Publishes `content` under the profile's key, alone.
    pub fn update(&mut self, content: &Content) -> io::Result<()> {
        let key = self.key.clone();
        self.update_files(&BTreeMap::from([(key, content.clone())]))
    }

    /// Publishes a version holding exactly `files` (key -> content), with an atomic
    /// `..data` swap. The runner starts watching the new version before the swap, so
    /// every later open of its files is the implementation's.
    pub fn update_files(&mut self, files: &BTreeMap<String, Content>) -> io::Result<()> {
        self.generation += 1;
        let data_dir_name = format!("..2026_01_01_00_00_00.{:09}", self.generation);
        let data_dir = self.dir.join(&data_dir_name);
        fs::create_dir(&data_dir)?;
        {
            // No fork may inherit these files while they are open (crate::forks).
            let _writing = crate::forks::writing();
            for (key, content) in files {
                let file = data_dir.join(key);
                match content {
                    Content::Absent => {}
                    Content::Bytes(bytes) => fs::write(&file, bytes)?,
                    Content::Directory => fs::create_dir(&file)?,
                    Content::Unreadable => symlink(key, &file)?, // points at itself: ELOOP
                }
            }
        }
        self.counter().watch(&data_dir, self.generation)?;
        let tmp = self.dir.join("..data_tmp");
        let _ = fs::remove_file(&tmp);
        symlink(&data_dir_name, &tmp)?;
        fs::rename(&tmp, self.dir.join("..data"))?;
        self.published
            .insert(self.generation, std::time::Instant::now());

        self.keys.extend(files.keys().cloned());
        for key in &self.keys {
            let visible = self.dir.join(key);
            let present = files.get(key).is_some_and(|c| c != &Content::Absent);
            if !present {
                let _ = fs::remove_file(&visible);
            } else if fs::symlink_metadata(&visible).is_err() {
                symlink(Path::new("..data").join(key), &visible)?;
            }
        }
        if let Some(old) = self.current.replace(data_dir_name) {
            // remove_dir_all does not follow symbolic links, inside or at the top.
            fs::remove_dir_all(self.dir.join(old))?;
        }
        Ok(())
    }

    /// How many complete reads (an open, then a close) of each file of the current
    /// version the implementation has made so far.
    pub fn reads_of_current(&mut self) -> BTreeMap<String, u32> {
        self.counter().counts(self.generation)
    }

    /// When `version` was published, and when the runner saw each completed read of it
    /// (at or after the read: events are timed when drained).
    pub fn history(
        &mut self,
        version: u32,
    ) -> Option<(std::time::Instant, Vec<std::time::Instant>)> {
        let published = *self.published.get(&version)?;
        let reads = self
            .counter()
            .read_times
            .get(&version)
            .cloned()
            .unwrap_or_default();
        Some((published, reads))
    }

    /// When the implementation last read (opened or closed) a file of the current
    /// version, as far as the runner can tell: never earlier than the read itself.
    pub fn last_read_of_current(&mut self) -> Option<std::time::Instant> {
        self.counter().last_read.get(&self.generation).copied()
    }

    /// How many times the implementation opened any file of the given versions. An open
    /// counts, not a completed read: a version the runner replaced at once (a flap) may
    /// be deleted, and its watch gone, before the implementation closes the file.
    pub fn opens_of(&mut self, versions: &BTreeSet<u32>) -> u32 {
        let counter = self.counter();
        versions
            .iter()
            .map(|v| counter.opens.get(v).copied().unwrap_or(0))
            .sum()
    }
}

impl Drop for ConfigMapVolume {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(stamper) = self.stamper.take() {
            let _ = stamper.join(); // ends within STAMP_EVERY
        }
    }
}

/// How often the volume's thread drains the read events: the precision of read times.
const STAMP_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// How many read times a version keeps (the latest): enough for a period.
const MAX_READ_TIMES: usize = 64;

/// Counts the implementation's reads of each published version with inotify.
///
/// The volume is the runner's own, so every open of a file in it after the runner wrote
/// it is the implementation's (through its bind mount: inotify follows inodes, not
/// paths). A read counts when the file is closed after an open for reading. Opens are
/// watched too, though not counted: inotify merges an event with an identical one still
/// queued, and the open between two closes keeps them apart. (Two reads of one file at
/// the same moment can still merge: the count errs low, so a wait lasts longer, never
/// shorter.)
struct ReadCounter {
    inotify: Inotify,
    /// Watch descriptor -> the version whose data directory it watches.
    versions: HashMap<WatchDescriptor, u32>,
    /// (version, file) -> completed reads.
    counts: HashMap<(u32, String), u32>,
    /// version -> opens of any of its files.
    opens: HashMap<u32, u32>,
    /// version -> when the runner saw each completed read of it (the latest
    /// [`MAX_READ_TIMES`]): the implementation's period, observed.
    read_times: HashMap<u32, Vec<std::time::Instant>>,
    /// version -> when the runner last saw a read of it (at or after the read itself:
    /// events are timed when drained, so a wait measured from it errs long).
    last_read: HashMap<u32, std::time::Instant>,
}

impl ReadCounter {
    fn new() -> io::Result<Self> {
        Ok(Self {
            inotify: Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?,
            versions: HashMap::new(),
            counts: HashMap::new(),
            opens: HashMap::new(),
            last_read: HashMap::new(),
            read_times: HashMap::new(),
        })
    }

    fn watch(&mut self, data_dir: &Path, version: u32) -> io::Result<()> {
        self.drain();
        let wd = self.inotify.add_watch(
            data_dir,
            AddWatchFlags::IN_OPEN | AddWatchFlags::IN_CLOSE_NOWRITE,
        )?;
        self.versions.insert(wd, version);
        Ok(())
    }

    /// Reads every queued event (never blocks).
    fn drain(&mut self) {
        while let Ok(events) = self.inotify.read_events() {
            if events.is_empty() {
                break;
            }
            for event in events {
                let (Some(version), Some(name)) = (self.versions.get(&event.wd), event.name) else {
                    continue;
                };
                if event.mask.contains(AddWatchFlags::IN_OPEN) {
                    *self.opens.entry(*version).or_default() += 1;
                }
                self.last_read.insert(*version, std::time::Instant::now());
                if !event.mask.contains(AddWatchFlags::IN_CLOSE_NOWRITE) {
                    continue;
                }
                let name = name.to_string_lossy().into_owned();
                *self.counts.entry((*version, name)).or_default() += 1;
                let times = self.read_times.entry(*version).or_default();
                if times.len() == MAX_READ_TIMES {
                    times.remove(0);
                }
                times.push(std::time::Instant::now());
            }
        }
    }

    fn counts(&self, version: u32) -> BTreeMap<String, u32> {
        self.counts
            .iter()
            .filter(|((v, _), _)| *v == version)
            .map(|((_, name), n)| (name.clone(), *n))
            .collect()
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

    #[test]
    fn reads_are_counted_per_version_and_file() {
        let dir = scratch("reads");
        let mut vol = ConfigMapVolume::create(&dir, "a").unwrap();
        vol.update_files(&BTreeMap::from([
            ("a".to_string(), Content::Bytes(b"1".to_vec())),
            ("b".to_string(), Content::Bytes(b"2".to_vec())),
        ]))
        .unwrap();
        // The runner's own writes are not reads.
        assert!(vol.reads_of_current().is_empty());
        fs::read(dir.join("a")).unwrap();
        fs::read(dir.join("a")).unwrap();
        fs::read(dir.join("b")).unwrap();
        let reads = vol.reads_of_current();
        assert_eq!(reads.get("a"), Some(&2));
        assert_eq!(reads.get("b"), Some(&1));
        // A new version starts from zero, and a key left out disappears.
        vol.update(&Content::Bytes(b"3".to_vec())).unwrap();
        assert!(vol.reads_of_current().is_empty());
        assert!(fs::symlink_metadata(dir.join("b")).is_err());
        fs::read(dir.join("a")).unwrap();
        assert_eq!(vol.reads_of_current().get("a"), Some(&1));
        // Opens are counted per version, whatever the file.
        assert_eq!(vol.opens_of(&BTreeSet::from([1])), 3);
        assert_eq!(vol.opens_of(&BTreeSet::from([1, 2])), 4);
        assert_eq!(vol.opens_of(&BTreeSet::from([7])), 0);
        let before = std::time::Instant::now();
        fs::read(dir.join("a")).unwrap();
        assert!(vol.last_read_of_current().is_some_and(|t| t >= before));
        fs::remove_dir_all(&dir).unwrap();
    }
}
