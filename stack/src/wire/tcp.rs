//! TCP segment headers (RFC 9293 §3.1): reading and writing the header,
//! the options the gateway's own TCP uses (MSS, window scale, SACK,
//! timestamps), a RST for a closed port, and MSS clamping for transit.

use super::checksum;
use super::{be16, be32, put16, put32, Error, Result};
use std::net::Ipv4Addr;

/// Byte offsets of the header's fields.
pub mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const OFF_FLAGS: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;

/// TCP control bits, as they sit in the flags byte ([`field::FLAGS`]).
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

/// Option kinds (RFC 9293 §3.2).
pub mod option {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    /// RFC 7323 §2.
    pub const WINDOW_SCALE: u8 = 3;
    /// RFC 2018 §2.
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    /// RFC 7323 §3.
    pub const TIMESTAMPS: u8 = 8;
}

/// Largest window scale shift (RFC 7323 §2.3): a larger one is taken as 14.
pub const MAX_WINDOW_SHIFT: u8 = 14;

/// Most SACK blocks one option carries (RFC 2018 §3: 4 without
/// timestamps, 3 with them).
pub const MAX_SACK_BLOCKS: usize = 4;

/// Bytes the timestamps option takes, with the two NOPs that align it.
pub const TIMESTAMPS_LEN: usize = 12;

/// The options of a segment the engine acts on (the others are skipped).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    /// The window scale shift, capped at [`MAX_WINDOW_SHIFT`].
    pub window_shift: Option<u8>,
    pub sack_permitted: bool,
    /// SACK blocks (RFC 2018 §3): left and right edges, `sack_len` of them.
    pub sack: [(u32, u32); MAX_SACK_BLOCKS],
    pub sack_len: u8,
    /// RFC 7323 §3: TSval and TSecr.
    pub timestamps: Option<(u32, u32)>,
}

impl TcpOptions {
    /// Parses the options in `opts` (the header past its 20 bytes). An
    /// option whose length is below 2 or runs past the header, or a
    /// known one of the wrong length, makes the segment malformed.
    pub fn parse(opts: &[u8]) -> Result<TcpOptions> {
        let mut o = TcpOptions::default();
        let mut i = 0;
        while let Some(&kind) = opts.get(i) {
            match kind {
                option::END => break,
                option::NOP => i += 1,
                _ => {
                    let len = usize::from(*opts.get(i + 1).ok_or(Error::Malformed)?);
                    let body = opts.get(i + 2..i + len).filter(|_| len >= 2).ok_or(Error::Malformed)?;
                    match (kind, body.len()) {
                        (option::SACK, n) if n % 8 == 0 && (8..=8 * MAX_SACK_BLOCKS).contains(&n) => {
                            for (i, b) in body.chunks_exact(8).enumerate() {
                                if let Some(slot) = o.sack.get_mut(i) {
                                    *slot = (be32(b, 0), be32(b, 4));
                                }
                            }
                            o.sack_len = (n / 8) as u8;
                        }
                        (option::SACK, _) => return Err(Error::Malformed),
                        (option::MSS, 2) => o.mss = Some(be16(body, 0)),
                        (option::WINDOW_SCALE, 1) => o.window_shift = Some(body[0].min(MAX_WINDOW_SHIFT)),
                        (option::SACK_PERMITTED, 0) => o.sack_permitted = true,
                        (option::TIMESTAMPS, 8) => o.timestamps = Some((be32(body, 0), be32(body, 4))),
                        (option::MSS | option::WINDOW_SCALE | option::SACK_PERMITTED | option::TIMESTAMPS, _) => {
                            return Err(Error::Malformed)
                        }
                        _ => {}
                    }
                    i += len;
                }
            }
        }
        Ok(o)
    }

    /// The bytes [`TcpOptions::emit`] writes (a multiple of 4).
    pub fn len(&self) -> usize {
        let sack = usize::from(self.sack_len.min(MAX_SACK_BLOCKS as u8));
        4 * usize::from(self.mss.is_some())
            + 4 * usize::from(self.window_shift.is_some())
            + 4 * usize::from(self.sack_permitted)
            + TIMESTAMPS_LEN * usize::from(self.timestamps.is_some())
            + if sack > 0 { 4 + 8 * sack } else { 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes MSS, NOP and window scale, two NOPs and SACK permitted, two
    /// NOPs and timestamps, two NOPs and the SACK blocks, those present,
    /// into `b`
    /// ([`TcpOptions::len`] bytes).
    pub fn emit(&self, b: &mut [u8]) {
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            if let Some(w) = b.get_mut(at..at + bytes.len()) {
                w.copy_from_slice(bytes);
            }
            at += bytes.len();
        };
        if let Some(mss) = self.mss {
            put(&[option::MSS, 4, (mss >> 8) as u8, mss as u8]);
        }
        if let Some(shift) = self.window_shift {
            put(&[option::NOP, option::WINDOW_SCALE, 3, shift]);
        }
        if self.sack_permitted {
            put(&[option::NOP, option::NOP, option::SACK_PERMITTED, 2]);
        }
        if let Some((val, ecr)) = self.timestamps {
            put(&[option::NOP, option::NOP, option::TIMESTAMPS, 10]);
            put(&val.to_be_bytes());
            put(&ecr.to_be_bytes());
        }
        let n = usize::from(self.sack_len).min(MAX_SACK_BLOCKS);
        if n > 0 {
            put(&[option::NOP, option::NOP, option::SACK, (2 + 8 * n) as u8]);
            for &(l, r) in self.sack.iter().take(n) {
                put(&l.to_be_bytes());
                put(&r.to_be_bytes());
            }
        }
    }
}

/// Lowers the Maximum Segment Size option of a SYN (`seg`: its header,
/// at least) to `max` if it is larger, updating the checksum in place
/// (RFC 1624). True if it did. A SYN without the option is left alone:
/// its sender assumes 536 (RFC 9293 §3.7.1), below any clamp. Options
/// that run past the header end the walk.
pub fn clamp_mss(seg: &mut [u8], max: u16) -> bool {
    if seg.len() < HEADER_LEN || seg[field::FLAGS] & flags::SYN == 0 {
        return false;
    }
    let end = (usize::from(seg[field::OFF_FLAGS] >> 4) * 4).min(seg.len());
    let mut i = HEADER_LEN;
    while i < end {
        match seg[i] {
            option::END => return false,
            option::NOP => i += 1,
            kind => {
                let Some(&len) = seg.get(i + 1) else { return false };
                let len = usize::from(len);
                if len < 2 || i + len > end {
                    return false;
                }
                if kind == option::MSS && len == 4 {
                    let mss = be16(seg, i + 2);
                    if mss <= max {
                        return false;
                    }
                    // The checksum sums aligned 16-bit words: the value
                    // may straddle two of them.
                    let (w, n) = if i.is_multiple_of(2) { (i + 2, 2) } else { (i + 1, 4) };
                    if w + n > seg.len() {
                        return false;
                    }
                    let mut old = [0u8; 4];
                    old[..n].copy_from_slice(&seg[w..w + n]);
                    put16(seg, i + 2, max);
                    let mut c = be16(seg, field::CHECKSUM);
                    for k in (0..n).step_by(2) {
                        c = checksum::update16(c, be16(&old, k), be16(seg, w + k));
                    }
                    put16(seg, field::CHECKSUM, c);
                    return true;
                }
                i += len;
            }
        }
    }
    false
}

/// A view of a TCP segment.
#[derive(Debug)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// The segment's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    /// Checks the header, options included, fits the buffer.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let p = TcpPacket { buffer };
        let hl = p.header_len();
        if hl < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if hl > p.buffer.as_ref().len() {
            return Err(Error::Truncated);
        }
        Ok(p)
    }
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ)
    }
    pub fn ack(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ACK)
    }
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::OFF_FLAGS] >> 4) * 4
    }
    /// The control bits (FIN..CWR; the flags byte).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
    pub fn window(&self) -> u16 {
        be16(self.buffer.as_ref(), field::WINDOW)
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }
    /// The options, parsed ([`TcpOptions::parse`]).
    pub fn options(&self) -> Result<TcpOptions> {
        TcpOptions::parse(self.buffer.as_ref().get(HEADER_LEN..self.header_len()).unwrap_or_default())
    }
    /// The data after the header.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or_default()
    }
    /// Segment length in sequence space: payload plus SYN and FIN.
    pub fn seq_len(&self) -> u32 {
        let f = self.flags();
        (self.buffer.as_ref().len() - self.header_len()) as u32
            + u32::from(f & flags::SYN != 0)
            + u32::from(f & flags::FIN != 0)
    }
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let b = self.buffer.as_ref();
        let acc = checksum::pseudo_header_v4(src, dst, 6, b.len() as u16);
        checksum::fold(checksum::sum(acc, b)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    pub fn set_ports(&mut self, src: u16, dst: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT, src);
        put16(self.buffer.as_mut(), field::DST_PORT, dst);
    }
    pub fn set_seq(&mut self, v: u32) {
        put32(self.buffer.as_mut(), field::SEQ, v);
    }
    pub fn set_ack(&mut self, v: u32) {
        put32(self.buffer.as_mut(), field::ACK, v);
    }
    /// Sets the data offset (header length in bytes) and the flags.
    pub fn set_header_len_flags(&mut self, header_len: usize, f: u8) {
        let v = ((header_len as u16 / 4) << 12) | u16::from(f);
        put16(self.buffer.as_mut(), field::OFF_FLAGS, v);
    }
    pub fn set_window(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::WINDOW, v);
    }
    pub fn set_urgent(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::URGENT, v);
    }
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v);
    }
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        put16(self.buffer.as_mut(), field::CHECKSUM, 0);
        let b = self.buffer.as_ref();
        let acc = checksum::pseudo_header_v4(src, dst, 6, b.len() as u16);
        let c = !checksum::fold(checksum::sum(acc, b));
        put16(self.buffer.as_mut(), field::CHECKSUM, c);
    }
}

/// The fixed 20 bytes of a header to write; `header_len` counts the
/// options that follow them.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub header_len: usize,
    pub flags: u8,
    pub window: u16,
}

impl Header {
    /// Writes the fixed header over whatever `b` held (a received
    /// segment's, with options of its own, or nothing): data offset from
    /// `header_len`, checksum and urgent pointer zero. Nothing if `b` is
    /// shorter than [`HEADER_LEN`].
    pub fn write(&self, b: &mut [u8]) {
        let Some(b) = b.get_mut(..HEADER_LEN) else { return };
        put16(b, field::SRC_PORT, self.src_port);
        put16(b, field::DST_PORT, self.dst_port);
        put32(b, field::SEQ, self.seq);
        put32(b, field::ACK, self.ack);
        put16(b, field::OFF_FLAGS, ((self.header_len as u16 / 4) << 12) | u16::from(self.flags));
        put16(b, field::WINDOW, self.window);
        put16(b, field::CHECKSUM, 0);
        put16(b, field::URGENT, 0);
    }
}

/// The RST answering a segment that reached no connection, as RFC 9293
/// §3.10.7.1 prescribes: if the segment carried ACK, `<SEQ=SEG.ACK><CTL=RST>`;
/// otherwise `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`. An incoming RST
/// is never answered ([`Reset::answering`] is `None`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Reset {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

impl Reset {
    pub fn answering<T: AsRef<[u8]>>(seg: &TcpPacket<T>) -> Option<Reset> {
        Reset::answering_len(seg, seg.seq_len())
    }

    /// As [`Reset::answering`], for a segment of `seq_len` in sequence
    /// space of which `seg` holds only the start (a reassembled one).
    pub fn answering_len<T: AsRef<[u8]>>(seg: &TcpPacket<T>, seq_len: u32) -> Option<Reset> {
        let f = seg.flags();
        if f & flags::RST != 0 {
            return None;
        }
        let (seq, ack, flags) = if f & flags::ACK != 0 {
            (seg.ack(), 0, flags::RST)
        } else {
            (0, seg.seq().wrapping_add(seq_len), flags::RST | flags::ACK)
        };
        Some(Reset { src_port: seg.dst_port(), dst_port: seg.src_port(), seq, ack, flags })
    }

    /// Writes the 20-byte header, no options, window 0, checksum 0 (the
    /// caller fills it in over its IP version's pseudo-header), over the
    /// segment it answers.
    pub fn emit(&self, b: &mut [u8]) {
        let (src_port, dst_port, seq, ack, flags) = (self.src_port, self.dst_port, self.seq, self.ack, self.flags);
        Header { src_port, dst_port, seq, ack, header_len: HEADER_LEN, flags, window: 0 }.write(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SYN with NOP, NOP, window scale and MSS 1460, checksum filled.
    fn syn_with_mss(mss: u16) -> Vec<u8> {
        let mut s = vec![0u8; 32];
        s[..4].copy_from_slice(&[0x9c, 0x40, 0, 80]);
        s[field::OFF_FLAGS] = 8 << 4;
        s[field::FLAGS] = flags::SYN;
        s[20..32].copy_from_slice(&[1, 1, 3, 3, 7, 2, 4, 0, 0, 4, 2, 0]);
        s[27..29].copy_from_slice(&mss.to_be_bytes());
        TcpPacket::new_checked(&mut s[..]).unwrap().fill_checksum(SRC, DST);
        s
    }

    #[test]
    fn an_aligned_mss_last_in_the_header_is_clamped_too() {
        // MSS first: at offset 20, the header's last 4 bytes.
        let mut s = vec![0u8; 24];
        s[field::OFF_FLAGS] = 6 << 4;
        s[field::FLAGS] = flags::SYN;
        s[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
        TcpPacket::new_checked(&mut s[..]).unwrap().fill_checksum(SRC, DST);
        assert!(clamp_mss(&mut s, 1400));
        assert_eq!(be16(&s, 22), 1400);
        assert!(TcpPacket::new_checked(&s[..]).unwrap().verify_checksum(SRC, DST));
    }

    #[test]
    fn a_syns_mss_is_lowered_to_the_clamp_and_the_checksum_follows() {
        let mut s = syn_with_mss(1460);
        assert!(clamp_mss(&mut s, 1360));
        assert_eq!(be16(&s, 27), 1360);
        assert!(TcpPacket::new_checked(&s[..]).unwrap().verify_checksum(SRC, DST));
        assert_eq!(s, syn_with_mss(1360), "as if sent so");
        assert!(!clamp_mss(&mut s, 1400), "never raised");
        let mut ack = syn_with_mss(1460);
        ack[field::FLAGS] = flags::ACK;
        assert!(!clamp_mss(&mut ack, 1000), "only SYNs");
        let mut bad = syn_with_mss(1460);
        bad[25] = 40; // a length past the header
        assert!(!clamp_mss(&mut bad, 1000));
    }

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);

    // A SYN from Linux curl, options trimmed to MSS 1460.
    fn syn() -> Vec<u8> {
        let mut b = vec![
            0xa4, 0x10, 0x00, 0x50, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 0x60, 0x02, 0xfa, 0xf0, 0, 0, 0, 0, 0x02, 0x04,
            0x05, 0xb4,
        ];
        TcpPacket::new_checked(&mut b[..]).unwrap().fill_checksum(SRC, DST);
        b
    }

    #[test]
    fn parse_syn() {
        let b = syn();
        let p = TcpPacket::new_checked(&b[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (0xa410, 80));
        assert_eq!(p.seq(), 0x11223344);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.flags(), flags::SYN);
        assert_eq!(p.seq_len(), 1);
        assert!(p.verify_checksum(SRC, DST));
        assert!(!p.verify_checksum(DST, Ipv4Addr::new(1, 2, 3, 4)));
    }

    #[test]
    fn truncated_and_bad_offset() {
        let b = syn();
        assert_eq!(TcpPacket::new_checked(&b[..19]).unwrap_err(), Error::Truncated);
        assert_eq!(TcpPacket::new_checked(&b[..22]).unwrap_err(), Error::Truncated);
        let mut bad = b.clone();
        bad[12] = 0x40;
        assert_eq!(TcpPacket::new_checked(&bad[..]).unwrap_err(), Error::Malformed);
    }

    #[test]
    fn rst_rules_rfc9293_3_10_7_1() {
        let b = syn();
        let p = TcpPacket::new_checked(&b[..]).unwrap();
        let r = Reset::answering(&p).unwrap();
        assert_eq!((r.seq, r.ack, r.flags), (0, 0x11223345, flags::RST | flags::ACK));
        assert_eq!((r.src_port, r.dst_port), (p.dst_port(), p.src_port()));
        let mut ack = b.clone();
        ack[8..12].copy_from_slice(&7u32.to_be_bytes());
        ack[13] = flags::ACK;
        let r = Reset::answering(&TcpPacket::new_checked(&ack[..]).unwrap()).unwrap();
        assert_eq!((r.seq, r.ack, r.flags), (7, 0, flags::RST));
        let mut rst = b.clone();
        rst[13] = flags::RST;
        assert_eq!(Reset::answering(&TcpPacket::new_checked(&rst[..]).unwrap()), None);
    }

    #[test]
    fn options_parse_skip_unknown_and_refuse_bad_lengths() {
        // MSS 1460, SACK permitted, timestamps, NOP, window scale 7 (Linux's SYN).
        let linux = [2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
        let o = TcpOptions::parse(&linux).unwrap();
        let want = TcpOptions {
            mss: Some(1460),
            window_shift: Some(7),
            sack_permitted: true,
            timestamps: Some((1, 0)),
            ..TcpOptions::default()
        };
        assert_eq!(o, want);
        assert_eq!(TcpOptions::parse(&[3, 3, 20]).unwrap().window_shift, Some(MAX_WINDOW_SHIFT));
        assert_eq!(TcpOptions::parse(&[1, 1, 0, 2, 4]).unwrap(), TcpOptions::default(), "after END: padding");
        for bad in [&[2, 4, 5][..], &[2, 3, 5], &[9, 1], &[9], &[3, 4, 1, 1], &[8, 6, 0, 0, 0, 0]] {
            assert_eq!(TcpOptions::parse(bad), Err(Error::Malformed), "{bad:?}");
        }
        let mut b = [0u8; 12];
        let mine = TcpOptions { mss: Some(1448), window_shift: Some(2), sack_permitted: true, ..TcpOptions::default() };
        mine.emit(&mut b);
        assert_eq!(mine.len(), 12);
        assert_eq!(TcpOptions::parse(&b).unwrap(), mine);
        // SACK blocks (RFC 2018 §3), written and read back; bad lengths refused.
        let blocks = TcpOptions { sack: [(10, 20), (30, 40), (0, 0), (0, 0)], sack_len: 2, ..TcpOptions::default() };
        let mut b = [0u8; 20];
        blocks.emit(&mut b);
        assert_eq!((blocks.len(), &b[..4]), (20, &[1, 1, 5, 18][..]));
        assert_eq!(TcpOptions::parse(&b).unwrap(), blocks);
        assert_eq!(TcpOptions::parse(&[5, 6, 0, 0, 0, 0]), Err(Error::Malformed));
        // Timestamps (RFC 7323 §3) with three blocks: the 40 bytes a header has.
        let both = TcpOptions { timestamps: Some((7, 9)), sack_len: 3, ..blocks };
        let mut b = [0u8; 40];
        both.emit(&mut b);
        assert_eq!((both.len(), &b[..4]), (40, &[1, 1, 8, 10][..]));
        assert_eq!(TcpOptions::parse(&b).unwrap(), both);
    }
}
