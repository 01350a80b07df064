//! Saving the config so that a crash never leaves half a file.
//!
//! Write a temporary file in the same directory, fsync it, rename it over
//! the target (atomic on POSIX file systems), then fsync the directory so
//! the rename itself is durable. A reader sees the old file or the new
//! one, never a mix or a truncation.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Replaces `path` with `contents` atomically and durably.
pub fn save_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("config");
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes temporary files that saves killed mid-way left beside `path`.
pub fn remove_leftovers(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return };
    let prefix = format!(".{name}.tmp.");
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    #[test]
    fn one_holder_of_a_config_at_a_time_and_the_file_itself_is_free() {
        let dir = std::env::temp_dir().join(format!("gw-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("gateway.yaml");
        std::fs::write(&cfg, "x").unwrap();
        let held = lock_config(&cfg).unwrap();
        let e = lock_config(&cfg).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        // Saves still replace the file while it is held.
        save_atomic(&cfg, b"y").unwrap();
        assert_eq!(std::fs::read(&cfg).unwrap(), b"y");
        drop(held);
        let again = lock_config_waiting(&cfg, std::time::Duration::from_secs(1));
        assert!(again.is_ok(), "let go with the file");
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::Duration;

    fn version(n: usize) -> Vec<u8> {
        // Big enough that a write takes more than one syscall's worth.
        let mut v = format!("version: {n}\n").into_bytes();
        v.extend(std::iter::repeat_n(b'x', 4 << 20));
        v.extend(format!("\nend: {n}\n").into_bytes());
        v
    }

    fn check_whole(path: &Path) {
        let text = std::fs::read(path).unwrap();
        let head = String::from_utf8_lossy(&text[..20.min(text.len())]).to_string();
        let n: usize = head.trim_start_matches("version: ").split('\n').next().unwrap().parse().unwrap();
        assert_eq!(text, version(n), "file is not exactly version {n}");
    }

    /// Run by `a_killed_save_leaves_the_old_or_the_new_file` in a child
    /// process: saves versions in a loop until killed.
    #[test]
    fn persist_child_saver() {
        let Ok(path) = std::env::var("GW_PERSIST_CHILD") else { return };
        for n in 1.. {
            save_atomic(Path::new(&path), &version(n)).unwrap();
        }
    }

    #[test]
    fn a_killed_save_leaves_the_old_or_the_new_file() {
        let dir = std::env::temp_dir().join(format!("gw-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gateway.yaml");
        save_atomic(&path, &version(0)).unwrap();
        for round in 0..8u64 {
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "persist::tests::persist_child_saver", "--nocapture"])
                .env("GW_PERSIST_CHILD", &path)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(40 + 17 * round));
            child.kill().unwrap(); // SIGKILL, mid-write more often than not
            child.wait().unwrap();
            check_whole(&path);
        }
        remove_leftovers(&path);
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["gateway.yaml"], "only the config is left");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// The lock a running gatewayd holds on its config file: an exclusive
/// `flock` on `.NAME.lock` beside it (the file itself is replaced on
/// every save, so it cannot carry the lock). Held as long as the returned
/// file is open; the kernel lets go when the process dies.
pub fn lock_config(path: &Path) -> std::io::Result<File> {
    use std::os::fd::AsRawFd;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("config");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(format!(".{name}.lock")))?;
    // SAFETY: f is an open file; a lock taken here goes with it.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(f)
}

/// [`lock_config`], waiting up to `patience` while another process
/// holds it (a gatewayd killed a moment ago lets go within a second or
/// two, once the kernel has torn down its memory).
pub fn lock_config_waiting(path: &Path, patience: std::time::Duration) -> std::io::Result<File> {
    let t0 = std::time::Instant::now();
    loop {
        match lock_config(path) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && t0.elapsed() < patience => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            r => return r,
        }
    }
}
