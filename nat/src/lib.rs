//! NAT44 for the gateway: endpoint-independent mappings with paired
//! address pooling and port preservation, endpoint-independent or
//! address-dependent filtering, hairpinning, TCP state tracking, ICMP
//! echo and ICMP error translation, port forwards and static 1:1
//! mappings, per-subscriber bounds, and expiry on
//! a timer wheel; after RFC 4787 (UDP), RFC 5382 (TCP), RFC 5508 (ICMP),
//! RFC 6888 (carrier-grade NAT) and RFC 7857 (updates).
//!
//! [`Nat`] is one worker's NAT. It joins the router's IPv4 path through
//! the router's hooks (`stack::Hooks`, `FastHooks`, `BurstHints`): inbound
//! translation before the FIB lookup,
//! outbound translation once the egress interface is known. Plain Rust,
//! no I/O; time is injected (nanoseconds), so every timeout is tested in
//! milliseconds.
#![deny(unsafe_code)]

mod index;
pub mod log;
mod nat44;
pub mod packet;
pub mod query;
pub mod rules;
mod wheel;

pub use log::{LogEvent, LogQueue, LogRecord};
pub use nat44::{
    protocol_name, FragRecord, FragmentQueue, Nat, NatConfig, NatCounter, NatCounters, SessionInfo, SubscriberInfo,
    PROTOCOLS,
};
pub use query::{Answer, Query, Request};
pub use rules::{Filtering, Forward, Rule, Rules, Static, Timeouts};

#[cfg(test)]
mod tests;
