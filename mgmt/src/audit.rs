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
/// appending; a symlink at `path` is not followed (`O_NOFOLLOW`: the
/// open fails), so whoever can write the log's directory cannot aim the
/// root daemon's writes at another file.
pub fn open_log(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().create(true).append(true).mode(0o640).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// The log file, and where each entry's line lies in it, so a page is
/// read without parsing the rest and without holding up appends.
pub struct AuditLog {
    path: PathBuf,
    inner: Mutex<Inner>,
}

struct Inner {
    file: File,
    /// Each entry's line: its offset in the file and length (newline
    /// excluded), oldest first. 12 bytes an entry.
    lines: Vec<(u64, u32)>,
    /// The file's length.
    end: u64,
}

impl AuditLog {
    /// Opens (creating) the log for appending, and finds its lines.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        let file = open_log(path)?;
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
        Ok(AuditLog { path: path.to_owned(), inner: Mutex::new(Inner { file, lines, end: at }) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry (its `seq` and `time` are filled in here) and
    /// syncs it to disk.
    pub fn append(&self, mut e: AuditEntry) -> std::io::Result<AuditEntry> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        e.seq = g.lines.len() as u64 + 1;
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

    /// Entries newest first: `(total, page)`. The lock is held only to
    /// copy where the page's lines lie; they are read and parsed after,
    /// `limit` of them at most, while appends go on.
    pub fn read(&self, offset: usize, limit: usize) -> std::io::Result<(usize, Vec<AuditEntry>)> {
        use std::os::unix::fs::FileExt;
        let (total, wanted): (usize, Vec<(u64, u32)>) = {
            let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            (g.lines.len(), g.lines.iter().rev().skip(offset).take(limit).copied().collect())
        };
        let f = File::open(&self.path)?;
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
}
