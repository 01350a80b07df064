//! Room for new sessions from outside when their bound is reached: the
//! oldest session from outside that has not been assured gives way, as
//! Linux conntrack's early drop does. A session from outside is assured
//! once its remote answered the inside host's reply (for TCP, the
//! handshake's last ACK): spoofed sources never are, so a flood of them
//! (SYNs at a port forward) turns over among itself while the clients
//! that complete their handshake stay, and new ones still get in.

use super::sessions::{ASSURED, INBOUND};
use super::Nat;
use std::collections::VecDeque;

/// Sessions from outside in the order they were made, each named by its
/// slot and what it held then (a slot is reused once its session ends).
/// Never grows past its room: the oldest candidates fall off the front,
/// and stay, unevictable, until they time out.
pub(super) struct Candidates {
    queue: VecDeque<(u32, u32, u16, u16)>,
    room: usize,
}

/// Entries looked at for a victim per new session at most: the queue's
/// front may hold ended or assured sessions, each looked at once.
const LOOK: usize = 8;

impl Candidates {
    /// Room for a quarter of the table's sessions, 1,024 to 1M.
    pub(super) fn new(sessions: usize) -> Candidates {
        let room = (sessions / 4).clamp(1024, 1 << 20);
        Candidates { queue: VecDeque::with_capacity(room), room }
    }

    pub(super) fn clear(&mut self) {
        self.queue.clear();
    }
}

impl Nat {
    /// Files session `e`, just made from outside, as a candidate.
    pub(super) fn file_candidate(&mut self, e: u32) {
        let Some(s) = self.sessions.get(e as usize) else { return };
        let c = &mut self.candidates;
        if c.queue.len() >= c.room {
            c.queue.pop_front();
        }
        c.queue.push_back((e, s.remote, s.rem_port, s.out_port));
    }

    /// Ends the oldest unassured session from outside, unless it is the
    /// last of mapping `keep` (which a new session is about to join).
    /// Returns whether one ended.
    pub(super) fn early_drop(&mut self, keep: u32) -> bool {
        for _ in 0..LOOK {
            let Some((e, remote, rem_port, out_port)) = self.candidates.queue.pop_front() else { return false };
            let Some(s) = self.sessions.get(e as usize) else { continue };
            let same = s.proto != 0 && s.remote == remote && s.rem_port == rem_port && s.out_port == out_port;
            if !same || s.tcp & INBOUND == 0 || s.tcp & ASSURED != 0 {
                continue; // ended, or another session's slot now, or assured
            }
            let last_of_keep =
                s.mapping == keep && self.mappings.get(keep as usize).is_some_and(|m| !m.fixed && m.sessions <= 1);
            if last_of_keep {
                self.candidates.queue.push_back((e, remote, rem_port, out_port));
                continue;
            }
            self.remove_session(e, true);
            self.counters.inbound_evicted += 1;
            return true;
        }
        false
    }
}
