//! The queues of the punt path between the workers and the control
//! plane's thread that serves the kernel twins (`mgmt`'s `punt`).
//!
//! Each worker pushes what it hands up onto its own bounded queue (a
//! full one drops and counts, `punt_queue_full`); what the kernel sends
//! comes down on one bounded queue that worker 0 drains, a budget per
//! loop. Workers never make a system call for the kernel: the thread
//! that reads and writes the TAPs does.

use crate::mbuf::Mbuf;
use crossbeam_queue::ArrayQueue;
use std::sync::Arc;

/// Frames waiting per worker for the kernel.
pub const UP_QUEUE: usize = 1024;
/// Frames from the kernel waiting for worker 0.
pub const DOWN_QUEUE: usize = 1024;
/// Frames from the kernel worker 0 sends per loop, at most.
pub(crate) const DOWN_BUDGET: usize = 32;

/// A frame for, or from, the kernel twin of layer-3 interface `ifindex`.
pub struct PuntFrame {
    pub mbuf: Mbuf,
    pub ifindex: u16,
}

/// Both directions' queues.
#[derive(Clone)]
pub struct PuntQueues {
    /// One per worker, to the kernel.
    pub up: Vec<Arc<ArrayQueue<PuntFrame>>>,
    /// From the kernel, to worker 0.
    pub down: Arc<ArrayQueue<PuntFrame>>,
}

impl PuntQueues {
    pub(crate) fn new(workers: usize) -> PuntQueues {
        PuntQueues {
            up: (0..workers).map(|_| Arc::new(ArrayQueue::new(UP_QUEUE))).collect(),
            down: Arc::new(ArrayQueue::new(DOWN_QUEUE)),
        }
    }
}
