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

/// The log file.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<(File, u64)>,
}

impl AuditLog {
    /// Opens (creating) the log for appending.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        let file = open_log(path)?;
        let seq = std::fs::read_to_string(path)?.lines().filter(|l| !l.trim().is_empty()).count() as u64;
        Ok(AuditLog { path: path.to_owned(), file: Mutex::new((file, seq)) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry (its `seq` and `time` are filled in here) and
    /// syncs it to disk.
    pub fn append(&self, mut e: AuditEntry) -> std::io::Result<AuditEntry> {
        let mut g = self.file.lock().unwrap_or_else(|p| p.into_inner());
        e.seq = g.1 + 1;
        e.time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let mut line = serde_json::to_vec(&e).map_err(std::io::Error::other)?;
        line.push(b'\n');
        g.0.write_all(&line)?;
        g.0.sync_data()?;
        g.1 = e.seq;
        Ok(e)
    }

    /// Entries newest first: `(total, page)`.
    pub fn read(&self, offset: usize, limit: usize) -> std::io::Result<(usize, Vec<AuditEntry>)> {
        let _g = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let text = std::fs::read_to_string(&self.path)?;
        let all: Vec<AuditEntry> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let total = all.len();
        Ok((total, all.into_iter().rev().skip(offset).take(limit).collect()))
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
        drop(log);
        // Reopening continues the sequence.
        let log = AuditLog::open(&path).unwrap();
        assert_eq!(log.read(0, 10).unwrap().0, 3);
        std::fs::remove_file(&path).unwrap();
    }
}
