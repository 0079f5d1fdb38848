//! Reading an input file (a fixture, a profile) that someone else may have made: only a
//! regular file, only up to a bound.
//!
//! `std::fs::read_to_string` on `/dev/zero` fills memory, and on a FIFO blocks until a
//! writer comes, which may be never (`--list` hung on one). The file is opened with
//! `O_NONBLOCK` (a FIFO's open returns at once), its type and size come from `fstat` on
//! that descriptor (no race with a rename), and at most `max + 1` bytes are ever read.
//! The final component may be a symlink to a regular file: fixture directories are
//! legitimately reached through symlinks; what is refused is what the file *is*.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The bound on a fixture or a profile: ample (the largest fixture is a few KiB).
pub const MAX_INPUT_BYTES: u64 = 1 << 20;

/// Why an input file was refused (the caller names the file).
#[derive(Debug, thiserror::Error)]
pub enum BoundedReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("not a regular file but {0}")]
    NotRegular(&'static str),
    #[error("larger than {max} bytes ({size} bytes)")]
    TooLarge { size: u64, max: u64 },
    #[error("not UTF-8")]
    NotUtf8,
}

/// The contents of the regular file at `path` as text, refused if it is anything else,
/// longer than `max` bytes or not UTF-8.
pub fn read_to_string(path: &Path, max: u64) -> Result<String, BoundedReadError> {
    String::from_utf8(read(path, max)?).map_err(|_| BoundedReadError::NotUtf8)
}

/// The bytes of the regular file at `path`, refused if it is anything else or longer
/// than `max` bytes.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, BoundedReadError> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    let ty = meta.file_type();
    let kind = if ty.is_dir() {
        Some("a directory")
    } else if ty.is_fifo() {
        Some("a FIFO")
    } else if ty.is_char_device() {
        Some("a character device")
    } else if ty.is_block_device() {
        Some("a block device")
    } else if ty.is_socket() {
        Some("a socket")
    } else if !ty.is_file() {
        Some("not a file")
    } else {
        None
    };
    if let Some(kind) = kind {
        return Err(BoundedReadError::NotRegular(kind));
    }
    if meta.len() > max {
        return Err(BoundedReadError::TooLarge {
            size: meta.len(),
            max,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // It may grow after the fstat: never read more than the bound allows.
    (&mut file).take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(BoundedReadError::TooLarge {
            size: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.yaml");
        std::fs::write(&ok, "a: 1\n").unwrap();
        assert_eq!(read_to_string(&ok, 100).unwrap(), "a: 1\n");
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&ok, &link).unwrap();
        assert_eq!(read_to_string(&link, 100).unwrap(), "a: 1\n");
        let err = read_to_string(&ok, 3).unwrap_err().to_string();
        assert_eq!(err, "larger than 3 bytes (5 bytes)");
        let err = read_to_string(Path::new("/dev/zero"), 100).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file but a character device");
        assert_eq!(
            read_to_string(dir.path(), 100).unwrap_err().to_string(),
            "not a regular file but a directory"
        );
        let fifo = dir.path().join("fifo.yaml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(
            read_to_string(&fifo, 100).unwrap_err().to_string(),
            "not a regular file but a FIFO"
        );
    }
}
