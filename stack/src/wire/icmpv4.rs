//! ICMP for IPv4 (RFC 792), with the router's uses of RFC 1812 §4.3 and
//! RFC 1191's next-hop MTU.

use super::checksum;
use super::{be16, put16, Error, Result};

/// Byte offsets of the header's fields.
pub mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const IDENT: usize = 4;
    pub const SEQ: usize = 6;
    pub const REST: usize = 4;
    pub const PAYLOAD: usize = 8;
}

/// Length of the ICMP header (type, code, checksum, 4 bytes of "rest").
pub const HEADER_LEN: usize = field::PAYLOAD;

/// ICMP type numbers (RFC 792), for code that reads the type byte
/// without a view.
pub mod types {
    pub const ECHO_REPLY: u8 = 0;
    pub const DST_UNREACHABLE: u8 = 3;
    pub const SOURCE_QUENCH: u8 = 4;
    pub const REDIRECT: u8 = 5;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    pub const PARAM_PROBLEM: u8 = 12;
    pub const TIMESTAMP: u8 = 13;
    pub const TIMESTAMP_REPLY: u8 = 14;
}

/// ICMP message types the gateway knows.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Message {
    EchoReply,
    DstUnreachable,
    Redirect,
    EchoRequest,
    TimeExceeded,
    ParamProblem,
    Timestamp,
    TimestampReply,
    Unknown(u8),
}

impl From<u8> for Message {
    fn from(v: u8) -> Self {
        match v {
            types::ECHO_REPLY => Message::EchoReply,
            types::DST_UNREACHABLE => Message::DstUnreachable,
            types::REDIRECT => Message::Redirect,
            types::ECHO_REQUEST => Message::EchoRequest,
            types::TIME_EXCEEDED => Message::TimeExceeded,
            types::PARAM_PROBLEM => Message::ParamProblem,
            types::TIMESTAMP => Message::Timestamp,
            types::TIMESTAMP_REPLY => Message::TimestampReply,
            o => Message::Unknown(o),
        }
    }
}

impl From<Message> for u8 {
    fn from(v: Message) -> u8 {
        match v {
            Message::EchoReply => types::ECHO_REPLY,
            Message::DstUnreachable => types::DST_UNREACHABLE,
            Message::Redirect => types::REDIRECT,
            Message::EchoRequest => types::ECHO_REQUEST,
            Message::TimeExceeded => types::TIME_EXCEEDED,
            Message::ParamProblem => types::PARAM_PROBLEM,
            Message::Timestamp => types::TIMESTAMP,
            Message::TimestampReply => types::TIMESTAMP_REPLY,
            Message::Unknown(o) => o,
        }
    }
}

impl Message {
    /// True for messages that are, or may be, errors: RFC 1812 §4.3.2.7
    /// forbids an ICMP error about one. Unknown types count as errors
    /// (RFC 1122 §3.2.2 leaves them undefined; silence is the safe side).
    pub fn is_error(self) -> bool {
        !matches!(self, Message::EchoReply | Message::EchoRequest | Message::Timestamp | Message::TimestampReply)
    }
}

/// Codes of Destination Unreachable (RFC 792, RFC 1812 §5.2.7.1).
pub mod unreachable {
    pub const NET: u8 = 0;
    pub const HOST: u8 = 1;
    pub const PROTOCOL: u8 = 2;
    pub const PORT: u8 = 3;
    pub const FRAG_NEEDED: u8 = 4;
    pub const SOURCE_ROUTE_FAILED: u8 = 5;
    pub const NET_UNKNOWN: u8 = 6;
    pub const HOST_UNKNOWN: u8 = 7;
    pub const NET_PROHIBITED: u8 = 9;
    pub const HOST_PROHIBITED: u8 = 10;
    pub const NET_FOR_TOS: u8 = 11;
    pub const HOST_FOR_TOS: u8 = 12;
    pub const ADMIN_PROHIBITED: u8 = 13;
}

/// Codes of Time Exceeded (RFC 792).
pub mod time_exceeded {
    pub const TTL: u8 = 0;
    pub const REASSEMBLY: u8 = 1;
}

/// A view of an ICMPv4 message.
#[derive(Debug)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Icmpv4Packet { buffer })
    }
    pub fn msg_type(&self) -> Message {
        self.buffer.as_ref()[field::TYPE].into()
    }
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }
    pub fn echo_seq(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SEQ)
    }
    /// The 4-byte "rest of header" as a number (MTU, pointer, gateway).
    pub fn rest(&self) -> u32 {
        super::be32(self.buffer.as_ref(), field::REST)
    }
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    pub fn set_msg_type(&mut self, m: Message) {
        self.buffer.as_mut()[field::TYPE] = m.into();
    }
    pub fn set_code(&mut self, c: u8) {
        self.buffer.as_mut()[field::CODE] = c;
    }
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v);
    }
    pub fn set_rest(&mut self, v: u32) {
        super::put32(self.buffer.as_mut(), field::REST, v);
    }
    pub fn set_echo(&mut self, ident: u16, seq: u16) {
        put16(self.buffer.as_mut(), field::IDENT, ident);
        put16(self.buffer.as_mut(), field::SEQ, seq);
    }
    /// Recomputes the checksum over the whole message.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

/// The meaning of the ICMP messages the gateway sends or answers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Icmpv4Repr {
    EchoRequest {
        ident: u16,
        seq: u16,
    },
    EchoReply {
        ident: u16,
        seq: u16,
    },
    /// An error: type, code and the 4-byte rest (MTU or pointer).
    Error {
        msg: Message,
        code: u8,
        rest: u32,
    },
    /// Anything else: carried as type and code.
    Other {
        msg: Message,
        code: u8,
    },
}

impl Icmpv4Repr {
    /// Parses after verifying the checksum over the whole message.
    pub fn parse<T: AsRef<[u8]>>(p: &Icmpv4Packet<T>) -> Result<Self> {
        if !p.verify_checksum() {
            return Err(Error::Checksum);
        }
        Ok(match p.msg_type() {
            Message::EchoRequest => Icmpv4Repr::EchoRequest { ident: p.echo_ident(), seq: p.echo_seq() },
            Message::EchoReply => Icmpv4Repr::EchoReply { ident: p.echo_ident(), seq: p.echo_seq() },
            m @ (Message::DstUnreachable | Message::TimeExceeded | Message::ParamProblem) => {
                Icmpv4Repr::Error { msg: m, code: p.code(), rest: p.rest() }
            }
            m => Icmpv4Repr::Other { msg: m, code: p.code() },
        })
    }

    /// Writes the header; the caller has placed the payload and then calls
    /// `fill_checksum` (the checksum covers the payload).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Icmpv4Packet<T>) {
        match *self {
            Icmpv4Repr::EchoRequest { ident, seq } => {
                p.set_msg_type(Message::EchoRequest);
                p.set_code(0);
                p.set_echo(ident, seq);
            }
            Icmpv4Repr::EchoReply { ident, seq } => {
                p.set_msg_type(Message::EchoReply);
                p.set_code(0);
                p.set_echo(ident, seq);
            }
            Icmpv4Repr::Error { msg, code, rest } => {
                p.set_msg_type(msg);
                p.set_code(code);
                p.set_rest(rest);
            }
            Icmpv4Repr::Other { msg, code } => {
                p.set_msg_type(msg);
                p.set_code(code);
                p.set_rest(0);
            }
        }
        p.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Echo request from Linux ping: id 0x1234, seq 1, 8 bytes of data.
    fn echo() -> Vec<u8> {
        let mut b = vec![8, 0, 0, 0, 0x12, 0x34, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8];
        let c = checksum::checksum(&b);
        b[2..4].copy_from_slice(&c.to_be_bytes());
        b
    }

    #[test]
    fn parse_echo_and_round_trip() {
        let b = echo();
        let r = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&b[..]).unwrap()).unwrap();
        assert_eq!(r, Icmpv4Repr::EchoRequest { ident: 0x1234, seq: 1 });
        let mut out = b.clone();
        out[..8].fill(0);
        r.emit(&mut Icmpv4Packet::new_checked(&mut out[..]).unwrap());
        assert_eq!(out, b);
    }

    #[test]
    fn truncated_and_bad_checksum() {
        let b = echo();
        assert_eq!(Icmpv4Packet::new_checked(&b[..7]).unwrap_err(), Error::Truncated);
        let mut bad = b.clone();
        bad[9] ^= 1;
        let p = Icmpv4Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p).unwrap_err(), Error::Checksum);
    }

    #[test]
    fn error_classification_rfc1812_4_3_2_7() {
        assert!(Message::DstUnreachable.is_error());
        assert!(Message::TimeExceeded.is_error());
        assert!(Message::Redirect.is_error());
        assert!(Message::Unknown(42).is_error());
        assert!(!Message::EchoRequest.is_error());
        assert!(!Message::EchoReply.is_error());
    }

    #[test]
    fn frag_needed_carries_mtu_rfc1191() {
        let mut b = [0u8; 8];
        let r = Icmpv4Repr::Error { msg: Message::DstUnreachable, code: unreachable::FRAG_NEEDED, rest: 1280 };
        r.emit(&mut Icmpv4Packet::new_checked(&mut b[..]).unwrap());
        assert_eq!(&b[6..8], &1280u16.to_be_bytes());
        assert_eq!(Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&b[..]).unwrap()).unwrap(), r);
    }
}
