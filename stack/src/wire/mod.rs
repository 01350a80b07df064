//! Packet views and representations, one module per protocol.
//!
//! The pattern is smoltcp's: `Packet<T: AsRef<[u8]>>` wraps a buffer, a
//! `field` table names byte ranges, `new_checked` validates length once so
//! no accessor can panic afterwards, and a `Repr` carries the meaning with
//! `parse` (validates semantics) and `emit`.

pub mod arp;
mod bytes;
pub mod checksum;
pub mod ethernet;
pub mod five_tuple;
pub mod gre;
pub mod icmpv4;
pub mod icmpv6;
pub mod ip;
pub mod ipv4;
pub mod ipv4_options;
pub mod ipv6;
pub mod plain4;
pub mod tcp;
pub mod udp;
pub mod vlan;
pub mod vxlan;

pub use bytes::{be16, be32, get_be16, get_be32, ne16, put16, put32, set_be16, set_be32, set_ne16};
pub use ethernet::{EtherType, EthernetFrame, MacAddr};
pub use five_tuple::FiveTuple;

/// Why a buffer could not be read as a packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than the header (or the length it declares).
    Truncated,
    /// A field holds a value the protocol forbids.
    Malformed,
    /// The checksum does not verify.
    Checksum,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated",
            Error::Malformed => "malformed",
            Error::Checksum => "bad checksum",
        })
    }
}

impl std::error::Error for Error {}

/// Result of parsing a packet.
pub type Result<T> = core::result::Result<T, Error>;
