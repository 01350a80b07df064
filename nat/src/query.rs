//! What the control plane asks a worker's NAT, and how the worker
//! answers without stalling its burst loop: a listing scans at most a
//! budget of table slots per loop and resumes on the next one, and the
//! answer goes into vectors the control plane made with room for it, so
//! the worker never allocates.

use crate::nat44::{Nat, SessionInfo, SubscriberInfo};
use std::net::Ipv4Addr;

/// A question for one worker's NAT.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// Sessions, optionally only those of one inside or outside address.
    Sessions { inside: Option<Ipv4Addr>, outside: Option<Ipv4Addr> },
    /// Subscribers' usage, optionally of one inside address.
    Subscribers { inside: Option<Ipv4Addr> },
    /// End one session, named by its outside endpoint and remote.
    Delete { proto: u8, outside: (Ipv4Addr, u16), remote: (Ipv4Addr, u16) },
}

/// A question in progress: which page, and how far the scan got.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub query: Query,
    /// The slot to start at (a previous answer's `next`; 0 at first).
    pub from: u32,
    /// Most entries in the answer (its vectors have room for this many).
    pub limit: usize,
    scanned: u32,
}

impl Request {
    pub fn new(query: Query, from: u32, limit: usize) -> Request {
        Request { query, from, limit, scanned: from }
    }
}

/// A worker's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub sessions: Vec<SessionInfo>,
    pub subscribers: Vec<SubscriberInfo>,
    /// The slot the next page starts at; `None` when the table is done.
    pub next: Option<u32>,
    /// For [`Query::Delete`]: whether there was such a session.
    pub deleted: bool,
}

impl Answer {
    /// An empty answer with room for `limit` entries.
    pub fn with_capacity(limit: usize) -> Answer {
        Answer { sessions: Vec::with_capacity(limit), subscribers: Vec::with_capacity(limit), ..Answer::default() }
    }
}

impl Nat {
    /// Works on `req` over at most `budget` table slots. True when `out`
    /// is complete: the page is full, or the table is scanned to its end.
    pub fn serve(&mut self, req: &mut Request, out: &mut Answer, budget: usize) -> bool {
        let room = req.limit.min(out.sessions.capacity().max(out.subscribers.capacity()));
        match req.query {
            Query::Delete { proto, outside, remote } => {
                out.deleted = self.delete(proto, outside, remote);
                true
            }
            Query::Sessions { inside, outside } => {
                let want = |s: &SessionInfo| {
                    inside.is_none_or(|a| s.inside.0 == a) && outside.is_none_or(|a| s.outside.0 == a)
                };
                let (slots, v) = (self.session_slots(), &mut out.sessions);
                Self::scan(req, budget, slots, room, &mut out.next, |i| {
                    if let Some(s) = self.session_info(i).filter(want) {
                        v.push(s);
                    }
                    v.len()
                })
            }
            Query::Subscribers { inside } => {
                let (slots, v) = (self.subscriber_slots(), &mut out.subscribers);
                Self::scan(req, budget, slots, room, &mut out.next, |i| {
                    if let Some(s) = self.subscriber_info(i).filter(|s| inside.is_none_or(|a| s.inside == a)) {
                        v.push(s);
                    }
                    v.len()
                })
            }
        }
    }

    /// The scan shared by the listings: `visit` slot by slot (it returns
    /// how many entries the answer holds) until `room` are found, the
    /// table ends, or the budget runs out (false: call again).
    fn scan(
        req: &mut Request,
        budget: usize,
        slots: u32,
        room: usize,
        next: &mut Option<u32>,
        mut visit: impl FnMut(u32) -> usize,
    ) -> bool {
        let end = req.scanned.saturating_add(budget.min(u32::MAX as usize) as u32).min(slots);
        while req.scanned < end {
            let i = req.scanned;
            req.scanned += 1;
            if visit(i) >= room {
                *next = (req.scanned < slots).then_some(req.scanned);
                return true;
            }
        }
        if req.scanned >= slots {
            *next = None;
            return true;
        }
        false
    }
}
