//! Records of who held which outside ports when, for the operator's log
//! (the records many jurisdictions require of a carrier-grade NAT).
//!
//! With port blocks (`Rules::port_block`), a record is written when a
//! subscriber is given a block of ports and when it gives the block back:
//! two records per block instead of two per session (the reduction RFC
//! 7422 §1 and RFC 6888 §5 describe). Without blocks, a record is written
//! per dynamic mapping. Destinations are never recorded (RFC 6888
//! REQ-12). Port forwards and static mappings are configuration, logged
//! by the audit log, not here.
//!
//! The worker pushes records into a bounded lock-free queue the control
//! plane drains ([`LogQueue`]); pushing never blocks or allocates. So
//! that no allocation goes unrecorded, a new block or mapping is refused
//! (the flow answered with ICMP 3/13) while the queue is more than three
//! quarters full; the last quarter is kept for releases, and a release
//! that still finds the queue full is counted as lost.

use crossbeam_queue::ArrayQueue;
use std::net::Ipv4Addr;

/// The queue a worker's NAT writes its records into.
pub type LogQueue = ArrayQueue<LogRecord>;

/// What happened.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LogEvent {
    /// A subscriber was given a block of ports (every protocol).
    BlockAlloc,
    /// It gave the block back.
    BlockRelease,
    /// A dynamic mapping was made (no port blocks).
    MappingCreate,
    /// It ended.
    MappingDelete,
    /// Every mapping and block of this worker ended at once (the NAT
    /// rules, port range or block size changed).
    Reset,
}

impl LogEvent {
    pub fn name(self) -> &'static str {
        match self {
            LogEvent::BlockAlloc => "block-alloc",
            LogEvent::BlockRelease => "block-release",
            LogEvent::MappingCreate => "mapping-create",
            LogEvent::MappingDelete => "mapping-delete",
            LogEvent::Reset => "reset",
        }
    }
}

/// One log record.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// When (ns, the worker's clock).
    pub time: u64,
    pub event: LogEvent,
    /// The mapping's protocol; 0 for a block (it holds the ports in every
    /// protocol) and for a reset.
    pub proto: u8,
    /// The subscriber (and, for a mapping, its inside port).
    pub inside: Ipv4Addr,
    pub inside_port: u16,
    /// The outside address and the ports it stands for, inclusive.
    pub outside: Ipv4Addr,
    pub ports: (u16, u16),
}

impl Default for LogRecord {
    fn default() -> Self {
        LogRecord {
            time: 0,
            event: LogEvent::Reset,
            proto: 0,
            inside: Ipv4Addr::UNSPECIFIED,
            inside_port: 0,
            outside: Ipv4Addr::UNSPECIFIED,
            ports: (0, 0),
        }
    }
}

impl LogRecord {
    /// The record as one log line (without the time, which the writer
    /// renders from the worker clock): `key=value` fields.
    pub fn fields(&self) -> String {
        let (lo, hi) = self.ports;
        match self.event {
            LogEvent::Reset => "event=reset".to_string(),
            LogEvent::BlockAlloc | LogEvent::BlockRelease => {
                format!("event={} inside={} outside={} ports={lo}-{hi}", self.event.name(), self.inside, self.outside)
            }
            LogEvent::MappingCreate | LogEvent::MappingDelete => format!(
                "event={} proto={} inside={}:{} outside={} ports={lo}-{hi}",
                self.event.name(),
                crate::protocol_name(self.proto),
                self.inside,
                self.inside_port,
                self.outside
            ),
        }
    }
}
