//! The conversations the kernel twin holds: the remote ends it sends to,
//! noted by the worker that carries the kernel's frames out and read by
//! every worker, so that what comes back from them is punted under a
//! budget of its own, which a flood from anywhere else cannot spend.
//!
//! A TCP conversation counts once established: the kernel sent a
//! segment with neither SYN nor RST (a spoofed SYN gets a SYN-ACK, a
//! stray segment a RST, and neither counts). Any other protocol but ICMP
//! counts once the kernel sent to the remote's unicast address (ICMP
//! errors and replies answer whatever came, spoofed or not). Entries
//! last [`CONVERSATION_TTL`] past the kernel's last packet. Only the
//! kernel's own packets make entries; a spoofed source gets one only if
//! a kernel service answers spoofed datagrams (UDP) with more of the same.
//!
//! The table is fixed (two-way set-associative over [`CONVERSATIONS`]
//! slots), lock-free and shared: a slot's key and time are two atomics,
//! and a reader that catches a slot mid-update misjudges one packet at
//! worst.

use crate::wire::ethernet::{EtherType, EthernetFrame, HEADER_LEN as ETH_LEN};
use crate::wire::ipv4::Ipv4Packet;
use crate::wire::ipv6::{self, nh, Ipv6Packet};
use crate::wire::tcp;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// IPv4's ICMP protocol number.
const ICMP: u8 = 1;

/// Slots in the table.
pub const CONVERSATIONS: usize = 4096;
/// How long a conversation is known after the kernel's last packet in
/// it, in nanoseconds (BGP's keepalives come every 60 s by default).
pub const CONVERSATION_TTL: u64 = 150_000_000_000;

struct Slot {
    key: AtomicU64,
    /// Until when, in seconds of the workers' clock.
    until: AtomicU32,
}

/// The shared table of conversations.
pub struct Conversations {
    slots: Box<[Slot]>,
    seed: crate::Secret,
}

impl Default for Conversations {
    fn default() -> Self {
        Conversations {
            slots: (0..CONVERSATIONS).map(|_| Slot { key: AtomicU64::new(0), until: AtomicU32::new(0) }).collect(),
            seed: crate::Secret::default(),
        }
    }
}

/// One end of a conversation, as the wire sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
struct End {
    protocol: u8,
    remote: IpAddr,
    local_port: u16,
    remote_port: u16,
}

/// What a frame says about its conversation.
struct Seen {
    end: End,
    /// The kernel sending it proves nothing about the remote: a TCP
    /// segment with SYN or RST, ICMP, or to a multicast group.
    unproven: bool,
}

/// The conversation of an Ethernet frame with IPv4 or IPv6 (IPv6 only
/// with the transport header right after the fixed one). `from_kernel`:
/// the kernel sent it (its destination is the remote end).
fn seen(frame: &[u8], from_kernel: bool) -> Option<Seen> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let ip = frame.get(ETH_LEN..)?;
    let (protocol, src, dst, l4) = match eth.ethertype() {
        EtherType::Ipv4 => {
            let p = Ipv4Packet::new_checked(ip).ok()?;
            if p.is_fragment() && p.frag_offset() != 0 {
                return None;
            }
            (u8::from(p.protocol()), IpAddr::V4(p.src()), IpAddr::V4(p.dst()), ip.get(p.header_len()..)?)
        }
        EtherType::Ipv6 => {
            let p = Ipv6Packet::new_checked(ip).ok()?;
            (p.next_header(), IpAddr::V6(p.src()), IpAddr::V6(p.dst()), ip.get(ipv6::HEADER_LEN..)?)
        }
        _ => return None,
    };
    let remote = if from_kernel { dst } else { src };
    let ported = protocol == nh::TCP || protocol == nh::UDP;
    let ports = if ported {
        l4.get(..4).map(|p| (u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]])))
    } else {
        Some((0, 0))
    };
    let (sport, dport) = ports?;
    let (local_port, remote_port) = if from_kernel { (sport, dport) } else { (dport, sport) };
    let unproven = match protocol {
        nh::TCP => l4.get(13).is_none_or(|f| f & (tcp::flags::SYN | tcp::flags::RST) != 0),
        nh::ICMPV6 | ICMP => true,
        _ => remote.is_multicast(),
    };
    Some(Seen { end: End { protocol, remote, local_port, remote_port }, unproven })
}

impl Conversations {
    fn key(&self, e: &End) -> u64 {
        self.seed.hash_one(e) | 1
    }

    fn pair(&self, key: u64) -> [usize; 2] {
        let i = (key >> 1) as usize % CONVERSATIONS;
        [i, i ^ 1]
    }

    /// Notes the conversation of a frame the kernel sent, at `now` (ns).
    pub fn note_sent(&self, frame: &[u8], now: u64) {
        let Some(s) = seen(frame, true) else { return };
        if s.unproven {
            return;
        }
        let key = self.key(&s.end);
        let until = ((now + CONVERSATION_TTL) / 1_000_000_000) as u32;
        let pair = self.pair(key);
        let slot = |i: usize| self.slots.get(i);
        for s in pair.iter().filter_map(|&i| slot(i)) {
            if s.key.load(Relaxed) == key {
                s.until.store(until, Relaxed);
                return;
            }
        }
        // The slot whose conversation ends first (an empty one's at 0).
        let oldest = pair.iter().filter_map(|&i| slot(i)).min_by_key(|s| s.until.load(Relaxed));
        if let Some(s) = oldest {
            s.until.store(0, Relaxed);
            s.key.store(key, Relaxed);
            s.until.store(until, Relaxed);
        }
    }

    /// True when a frame from the wire belongs to a conversation the
    /// kernel holds at `now` (ns).
    pub fn knows(&self, frame: &[u8], now: u64) -> bool {
        let Some(s) = seen(frame, false) else { return false };
        let key = self.key(&s.end);
        let now_s = (now / 1_000_000_000) as u32;
        self.pair(key)
            .iter()
            .filter_map(|&i| self.slots.get(i))
            .any(|s| s.key.load(Relaxed) == key && s.until.load(Relaxed) >= now_s)
    }
}
