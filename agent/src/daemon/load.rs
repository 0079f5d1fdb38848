//! Reading the config file: an absent file means defaults; a FIFO, a device or an endless
//! file never wedges the daemon.

use crate::config::{self, Config, ConfigError, ParseOptions, Parsed};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Files larger than this are rejected unread. The reference reads any size, but a config
/// path pointing at an endless source (`/dev/zero`) must not exhaust memory.
pub const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config {path} is larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("cannot read config {path}: not a regular file ({kind})")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("invalid config {path}: {source}")]
    Invalid {
        path: PathBuf,
        #[source]
        source: ConfigError,
    },
}

/// Where a config came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    File,
    /// The file does not exist: defaults.
    Absent,
}

/// What a non-regular file is, for the error message.
fn file_kind(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// What the config path holds: its bytes, or `None` when there is no file (defaults).
pub type ConfigBytes = Option<Vec<u8>>;

/// Reads the config file's bytes; an absent file is `None`.
///
/// Opened with `O_NONBLOCK` and checked to be a regular file (after symlinks) before any
/// read: a FIFO or a device at the config path must not wedge the daemon.
pub fn read_config(path: &Path) -> Result<ConfigBytes, LoadError> {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path);
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LoadError::Read {
                path: path.into(),
                source,
            })
        }
    };
    let meta = file.metadata().map_err(|source| LoadError::Read {
        path: path.into(),
        source,
    })?;
    if !meta.file_type().is_file() {
        return Err(LoadError::NotRegular {
            path: path.into(),
            kind: file_kind(meta.file_type()),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| LoadError::Read {
            path: path.into(),
            source,
        })?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(LoadError::TooLarge { path: path.into() });
    }
    Ok(Some(bytes))
}

/// Parses what [`read_config`] read (`path` names it in errors); no file means defaults.
pub fn parse_config(
    path: &Path,
    bytes: Option<&[u8]>,
    opts: &ParseOptions,
) -> Result<(Parsed, Source), LoadError> {
    let Some(bytes) = bytes else {
        let parsed = Parsed {
            config: Config::defaults(opts),
            warnings: Vec::new(),
        };
        return Ok((parsed, Source::Absent));
    };
    let parsed = config::parse(bytes, opts).map_err(|source| LoadError::Invalid {
        path: path.into(),
        source,
    })?;
    Ok((parsed, Source::File))
}

/// Reads and parses the config file; an absent file means defaults.
pub fn load_config(path: &Path, opts: &ParseOptions) -> Result<(Parsed, Source), LoadError> {
    parse_config(path, read_config(path)?.as_deref(), opts)
}
