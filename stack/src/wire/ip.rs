//! What IPv4 and IPv6 share: the IANA protocol numbers, carried in
//! IPv4's Protocol field and IPv6's Next Header.

/// IANA Assigned Internet Protocol Numbers.
pub mod protocol {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
}
