//! Packet buffers: [`Mempool`] of mbufs and the owning [`Mbuf`] handle.

use dpdk_sys as ffi;
use stack::PacketBuf;
use std::ffi::CString;
use std::ptr::NonNull;

/// A pool of packet mbufs (`rte_pktmbuf_pool_create`).
#[derive(Debug)]
pub struct Mempool {
    raw: NonNull<ffi::rte_mempool>,
}

// SAFETY: DPDK mempools are multi-producer/multi-consumer safe; per-lcore
// caches are used only by registered threads.
unsafe impl Send for Mempool {}
// SAFETY: as above.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `n` mbufs with the default data room.
    pub fn new(name: &str, n: u32, cache: u32) -> Result<Mempool, String> {
        Mempool::with_room(name, n, cache, ffi::RTE_MBUF_DEFAULT_BUF_SIZE as u16)
    }

    /// Creates a pool of `n` mbufs of `room` bytes each, headroom
    /// included (jumbo frames need more than the default 2,176).
    pub fn with_room(name: &str, n: u32, cache: u32, room: u16) -> Result<Mempool, String> {
        let cname = CString::new(name).map_err(|_| format!("pool name {name:?} has a NUL byte"))?;
        // SAFETY: valid name; SOCKET_ID_ANY is -1.
        let raw = unsafe { ffi::rte_pktmbuf_pool_create(cname.as_ptr(), n, cache, 0, room, -1) };
        NonNull::new(raw)
            .map(|raw| Mempool { raw })
            .ok_or_else(|| format!("mempool {name} ({n} mbufs): {}", crate::rte_error(crate::rte_errno())))
    }

    pub(crate) fn as_ptr(&self) -> *mut ffi::rte_mempool {
        self.raw.as_ptr()
    }

    /// Takes one mbuf.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool is valid for self's lifetime.
        let m = unsafe { ffi::rte_pktmbuf_alloc(self.raw.as_ptr()) };
        NonNull::new(m).map(Mbuf)
    }

    /// Mbufs currently in the pool.
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is valid.
        unsafe { ffi::rte_mempool_avail_count(self.raw.as_ptr()) }
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: every port using the pool is closed before the pool goes.
        unsafe { ffi::rte_mempool_free(self.raw.as_ptr()) };
    }
}

/// `RTE_MBUF_F_INDIRECT`: the mbuf is attached to another's buffer.
const IND_ATTACHED: u64 = 1 << 62;

/// One single-segment packet buffer, freed when dropped.
#[derive(Debug)]
#[repr(transparent)]
pub struct Mbuf(NonNull<ffi::rte_mbuf>);

// SAFETY: an Mbuf is owned by one thread at a time; DPDK frees into the
// pool from any registered thread.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf from an RX burst.
    ///
    /// # Safety
    /// `raw` must be a valid mbuf nobody else owns.
    #[inline(always)]
    pub unsafe fn from_raw(raw: NonNull<ffi::rte_mbuf>) -> Mbuf {
        Mbuf(raw)
    }

    /// Gives up ownership (to a TX burst).
    #[inline(always)]
    pub fn into_raw(self) -> *mut ffi::rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    #[inline(always)]
    fn m(&self) -> &ffi::rte_mbuf {
        // SAFETY: self owns a valid mbuf.
        unsafe { self.0.as_ref() }
    }

    #[inline(always)]
    fn m_mut(&mut self) -> &mut ffi::rte_mbuf {
        // SAFETY: self owns a valid mbuf exclusively.
        unsafe { self.0.as_mut() }
    }

    /// True when no other mbuf shares this one's bytes (and it is not an
    /// indirect one on another's): they may be written.
    #[inline]
    pub fn is_private(&self) -> bool {
        // SAFETY: self owns a valid mbuf.
        unsafe { ffi::gw_mbuf_private(self.0.as_ptr()) != 0 }
    }

    /// True when the frame spans more than one mbuf (a chain). The ports
    /// are set up without scatter, so none should; the pipeline reads one
    /// segment only, so a chained frame is dropped, not read in part.
    #[inline(always)]
    pub fn is_chained(&self) -> bool {
        self.m().nb_segs != 1
    }

    /// Appends `tail`'s segments to this frame, as a port with scatter
    /// would deliver a frame larger than one mbuf (tests make chains with
    /// it). Gives `tail` back if the chain would be too long.
    pub fn chain(&mut self, tail: Mbuf) -> Result<(), Mbuf> {
        // SAFETY: both are valid mbufs self and tail own; on success the
        // chain owns tail's segments, so tail is not freed here.
        if unsafe { ffi::gw_mbuf_chain(self.0.as_ptr(), tail.0.as_ptr()) } == 0 {
            std::mem::forget(tail);
            Ok(())
        } else {
            Err(tail)
        }
    }

    /// A private copy of this frame in a fresh mbuf from `pool`, or None.
    pub fn copy_in(&self, pool: &Mempool) -> Option<Mbuf> {
        let mut c = pool.alloc()?;
        let d = self.data();
        if !c.append(d.len()) {
            return None;
        }
        c.data_mut().copy_from_slice(d);
        c.set_port(self.port());
        Some(c)
    }

    /// Room after the data; none on an indirect mbuf, whose tail is the
    /// bytes of the mbuf it shares.
    #[inline(always)]
    fn tailroom(&self) -> usize {
        let m = self.m();
        if m.ol_flags & IND_ATTACHED != 0 {
            return 0;
        }
        usize::from(m.buf_len) - usize::from(m.data_off) - usize::from(m.data_len)
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: self owns the mbuf; it is not used again.
        unsafe { ffi::rte_pktmbuf_free(self.0.as_ptr()) };
    }
}

impl PacketBuf for Mbuf {
    #[inline(always)]
    fn data(&self) -> &[u8] {
        let m = self.m();
        // SAFETY: [data_off, data_off + data_len) lies inside the buffer
        // of a single-segment mbuf, which self owns.
        unsafe {
            std::slice::from_raw_parts((m.buf_addr as *const u8).add(usize::from(m.data_off)), usize::from(m.data_len))
        }
    }
    #[inline(always)]
    fn data_mut(&mut self) -> &mut [u8] {
        let m = self.m_mut();
        // SAFETY: as in data(), and self is borrowed mutably.
        unsafe {
            std::slice::from_raw_parts_mut(
                (m.buf_addr as *mut u8).add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }
    #[inline(always)]
    fn prepend(&mut self, n: usize) -> bool {
        let m = self.m_mut();
        if n > usize::from(m.data_off) {
            return false;
        }
        m.data_off -= n as u16;
        m.data_len += n as u16;
        m.pkt_len += n as u32;
        true
    }
    #[inline(always)]
    fn adj(&mut self, n: usize) -> bool {
        let m = self.m_mut();
        if n > usize::from(m.data_len) {
            return false;
        }
        m.data_off += n as u16;
        m.data_len -= n as u16;
        m.pkt_len -= n as u32;
        true
    }
    #[inline(always)]
    fn append(&mut self, n: usize) -> bool {
        if n > self.tailroom() {
            return false;
        }
        let m = self.m_mut();
        m.data_len += n as u16;
        m.pkt_len += n as u32;
        true
    }
    #[inline(always)]
    fn truncate(&mut self, len: usize) {
        let m = self.m_mut();
        if len < usize::from(m.data_len) {
            m.data_len = len as u16;
            m.pkt_len = len as u32;
        }
    }
    #[inline(always)]
    fn port(&self) -> u16 {
        self.m().port
    }

    /// An indirect mbuf on this one's buffer (`rte_pktmbuf_attach`): its
    /// own data offset and length over the same bytes, so headers
    /// prepended to it go into this buffer's headroom; freeing it
    /// releases its hold on this buffer. `None` if this mbuf is shared
    /// already or indirect, or the pool is empty.
    #[inline]
    fn share(&self) -> Option<Mbuf> {
        // SAFETY: self owns a valid mbuf; the shim only reads it and
        // raises its reference count when it attaches a new mbuf.
        let m = unsafe { ffi::gw_mbuf_share(self.0.as_ptr()) };
        NonNull::new(m).map(Mbuf)
    }

    #[inline(always)]
    fn set_port(&mut self, port: u16) {
        self.m_mut().port = port;
    }
}
