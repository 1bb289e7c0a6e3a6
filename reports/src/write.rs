//! Writing report files so that a reader sees the old file or the new one, never half of one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent writers within one process.
static NEXT_TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory, flushed to disk,
/// then renamed over `path` (and the directory synced, where the platform allows it). On any error the
/// temporary file is removed and `path` is left as it was.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the report path names no file"))?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let sequence = NEXT_TEMPORARY.fetch_add(1, Ordering::Relaxed);
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(file_name);
    temporary_name.push(format!(".{}.{sequence}.tmp", std::process::id()));
    let temporary = directory.join(temporary_name);

    let result = write_and_sync(&temporary, bytes).and_then(|()| fs::rename(&temporary, path));
    if result.is_err() {
        // The temporary file may not exist (creation failed); either way there is nothing else to do.
        let _ = fs::remove_file(&temporary);
    }
    result?;
    sync_directory(&directory);
    Ok(())
}

fn write_and_sync(temporary: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(temporary)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the rename itself durable. Not every platform can open a directory for syncing, and the
/// report is already complete and in place, so failure here is not an error.
fn sync_directory(directory: &Path) {
    if let Ok(handle) = File::open(directory) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(directory: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(directory)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_written_file_holds_exactly_the_bytes_and_leaves_no_temporary_file_behind() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("summary.json");
        write_atomically(&path, b"{}\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{}\n");
        assert_eq!(entries(directory.path()), ["summary.json"]);
    }

    #[test]
    fn writing_again_replaces_the_whole_previous_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("campaign.json");
        write_atomically(&path, b"a much longer first version").unwrap();
        write_atomically(&path, b"short").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"short");
        assert_eq!(entries(directory.path()), ["campaign.json"]);
    }

    #[test]
    fn a_missing_directory_is_an_error_and_creates_nothing() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("absent").join("campaign.json");
        let error = write_atomically(&path, b"x").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(entries(directory.path()).is_empty());
    }

    #[test]
    fn a_path_without_a_file_name_is_rejected() {
        let error = write_atomically(Path::new("/"), b"x").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn when_the_rename_fails_the_old_file_stays_and_the_temporary_file_is_removed() {
        let directory = tempfile::tempdir().unwrap();
        // A non-empty directory where the file should go makes the rename fail on every platform.
        let path = directory.path().join("occupied");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("keep"), b"old").unwrap();
        assert!(write_atomically(&path, b"new").is_err());
        assert_eq!(entries(directory.path()), ["occupied"]);
        assert_eq!(fs::read(path.join("keep")).unwrap(), b"old");
    }
}
