//! The audit log: one JSON line per change attempt, appended and synced
//! before the API answers. The file is only ever appended to (opened with
//! `O_APPEND`, one `write` per record); `GET /api/v1/audit` reads it back.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use utoipa::ToSchema;

/// One change attempt.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AuditEntry {
    /// Position in the log, from 1.
    pub seq: u64,
    /// RFC 3339 UTC time.
    pub time: String,
    /// Name of the token used (`-` for changes not made through the API,
    /// such as an automatic rollback).
    pub token: String,
    /// Remote address of the API client.
    pub remote: String,
    /// `METHOD /path` of the request.
    pub request: String,
    /// What the request asked for, in words.
    pub action: String,
    /// The config fields that changed, `path: old -> new`.
    #[serde(default)]
    pub changes: Vec<String>,
    /// `applied`, `rejected` or `failed`.
    pub outcome: String,
    /// Why it was rejected or failed; empty when applied.
    #[serde(default)]
    pub detail: String,
    /// Config generation after the request.
    pub generation: u64,
}

/// Opens (creating, mode 0640) a log file of the daemon's for
/// appending (and reading); a symlink at `path` is not followed (`O_NOFOLLOW`: the
/// open fails), so whoever can write the log's directory cannot aim the
/// root daemon's writes at another file.
pub fn open_log(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().read(true).create(true).append(true).mode(0o640).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// The log file, and where each entry's line lies in it, so a page is
/// read without parsing the rest and without holding up appends.
pub struct AuditLog {
    path: PathBuf,
    inner: Mutex<Inner>,
}

struct Inner {
    file: File,
    /// The open file's inode: a different one at the path means the log
    /// was rotated (moved away, a new one made).
    ino: u64,
    /// Each entry's line: its offset in the file and length (newline
    /// excluded), oldest first. 12 bytes an entry.
    lines: Vec<(u64, u32)>,
    /// The file's length.
    end: u64,
    /// Entries in the files rotated away, so sequence numbers go on.
    before: u64,
}

impl Inner {
    /// Opens (creating) the file at `path` and finds its lines.
    fn open(path: &Path, before: u64) -> std::io::Result<Inner> {
        use std::os::unix::fs::MetadataExt;
        let file = open_log(path)?;
        let ino = file.metadata()?.ino();
        let bytes = std::fs::read(path)?;
        let mut lines = Vec::new();
        let mut at = 0u64;
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            if !body.iter().all(u8::is_ascii_whitespace) {
                lines.push((at, body.len() as u32));
            }
            at += line.len() as u64;
        }
        Ok(Inner { file, ino, lines, end: at, before })
    }

    /// Follows a rotation (logrotate moved the file away): the new file
    /// at `path` from now on, numbering on from the old one's entries.
    fn follow(&mut self, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.ino() == self.ino) {
            return Ok(());
        }
        *self = Inner::open(path, self.before + self.lines.len() as u64)?;
        Ok(())
    }
}

impl AuditLog {
    /// Opens (creating) the log for appending, and finds its lines.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        Ok(AuditLog { path: path.to_owned(), inner: Mutex::new(Inner::open(path, 0)?) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry (its `seq` and `time` are filled in here) and
    /// syncs it to disk.
    pub fn append(&self, mut e: AuditEntry) -> std::io::Result<AuditEntry> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.follow(&self.path)?;
        e.seq = g.before + g.lines.len() as u64 + 1;
        e.time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let mut line = serde_json::to_vec(&e).map_err(std::io::Error::other)?;
        line.push(b'\n');
        g.file.write_all(&line)?;
        g.file.sync_data()?;
        let at = g.end;
        g.lines.push((at, line.len() as u32 - 1));
        g.end += line.len() as u64;
        Ok(e)
    }

    /// Entries of the current file newest first: `(total, page)`. The
    /// lock is held only to copy where the page's lines lie; they are
    /// read and parsed after, `limit` of them at most, while appends go
    /// on (from the file the lines are in, even if rotated meanwhile).
    pub fn read(&self, offset: usize, limit: usize) -> std::io::Result<(usize, Vec<AuditEntry>)> {
        use std::os::unix::fs::FileExt;
        let (total, wanted, f): (usize, Vec<(u64, u32)>, File) = {
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            g.follow(&self.path)?;
            (g.lines.len(), g.lines.iter().rev().skip(offset).take(limit).copied().collect(), g.file.try_clone()?)
        };
        let mut out = Vec::with_capacity(wanted.len());
        let mut buf = Vec::new();
        for (at, len) in wanted {
            buf.resize(len as usize, 0);
            f.read_exact_at(&mut buf, at)?;
            if let Ok(e) = serde_json::from_slice(&buf) {
                out.push(e);
            }
        }
        Ok((total, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_append_and_read_back_newest_first() {
        let path = std::env::temp_dir().join(format!("gw-audit-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let log = AuditLog::open(&path).unwrap();
        for i in 0..3 {
            let e = AuditEntry {
                seq: 0,
                time: String::new(),
                token: "ops".into(),
                remote: "127.0.0.1:5000".into(),
                request: "POST /api/v1/routes".into(),
                action: format!("add route {i}"),
                changes: vec![],
                outcome: "applied".into(),
                detail: String::new(),
                generation: i,
            };
            assert_eq!(log.append(e).unwrap().seq, i + 1);
        }
        let (total, page) = log.read(0, 2).unwrap();
        assert_eq!(total, 3);
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2]);
        assert!(page[0].time.ends_with('Z'));
        let (_, page) = log.read(2, 5).unwrap();
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
        assert!(log.read(3, 5).unwrap().1.is_empty());
        drop(log);
        // Reopening finds the lines and continues the sequence.
        let log = AuditLog::open(&path).unwrap();
        assert_eq!(log.read(0, 10).unwrap().0, 3);
        let e = AuditEntry { seq: 0, action: "later".into(), ..log.read(0, 1).unwrap().1.remove(0) };
        assert_eq!(log.append(e).unwrap().seq, 4);
        assert_eq!(log.read(0, 1).unwrap().1[0].action, "later");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_rotated_log_is_followed_and_numbering_goes_on() {
        let path = std::env::temp_dir().join(format!("gw-audit-rot-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let log = AuditLog::open(&path).unwrap();
        let entry = |action: &str| AuditEntry {
            seq: 0,
            time: String::new(),
            token: "ops".into(),
            remote: String::new(),
            request: String::new(),
            action: action.into(),
            changes: vec![],
            outcome: "applied".into(),
            detail: String::new(),
            generation: 1,
        };
        log.append(entry("one")).unwrap();
        log.append(entry("two")).unwrap();
        // logrotate: the file moves away; the next entry starts a new one.
        let old = path.with_extension("jsonl.1");
        std::fs::rename(&path, &old).unwrap();
        assert_eq!(log.read(0, 10).unwrap().0, 0, "the new file is empty");
        assert_eq!(log.append(entry("three")).unwrap().seq, 3);
        let (total, page) = log.read(0, 10).unwrap();
        assert_eq!((total, page[0].action.as_str(), page[0].seq), (1, "three", 3));
        assert_eq!(std::fs::read_to_string(&old).unwrap().lines().count(), 2, "the old file is whole");
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&old).unwrap();
    }
}
