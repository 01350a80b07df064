//! Byte offsets in a plain IPv4 frame: untagged Ethernet, then an IPv4
//! header without options, then TCP or UDP. The fast path and the flow
//! cache read such frames at fixed offsets; these are the field tables of
//! `ethernet`, `ipv4`, `tcp` and `udp` added up.

use super::{ethernet, ipv4, tcp, udp};

/// The IPv4 header.
pub const IP: usize = ethernet::HEADER_LEN;
/// The transport header.
pub const L4: usize = IP + ipv4::HEADER_LEN;
pub const ETHERTYPE: usize = ethernet::field::ETHERTYPE;
pub const VER_IHL: usize = IP + ipv4::field::VER_IHL;
pub const LENGTH: usize = IP + ipv4::field::LENGTH;
pub const FLG_OFF: usize = IP + ipv4::field::FLG_OFF;
pub const TTL: usize = IP + ipv4::field::TTL;
pub const PROTOCOL: usize = IP + ipv4::field::PROTOCOL;
pub const CHECKSUM: usize = IP + ipv4::field::CHECKSUM;
pub const SRC: usize = IP + ipv4::field::SRC.start;
pub const DST: usize = IP + ipv4::field::DST.start;
/// TCP's and UDP's ports sit alike.
pub const SRC_PORT: usize = L4 + udp::field::SRC_PORT;
pub const DST_PORT: usize = L4 + udp::field::DST_PORT;
pub const UDP_CHECKSUM: usize = L4 + udp::field::CHECKSUM;
pub const TCP_FLAGS: usize = L4 + tcp::field::FLAGS;
pub const TCP_CHECKSUM: usize = L4 + tcp::field::CHECKSUM;
