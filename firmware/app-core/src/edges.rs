//! Input edges from the board's GPIO interrupt to the engine's watches.
//!
//! The interrupt handler takes each edge's time from the µs timer and
//! [`EdgeQueue::push`]es it (a few instructions in a critical section, never
//! waits); [`run`] hands the queued edges to [`Engine::edge`] under the
//! engine lock (debounce and the per-connection queues are the engine's,
//! the same code piconetd runs) and wakes the connections that got event
//! lines ([`Shared::wake_events`]).
//!
//! An edge that finds this queue full is lost before any connection saw it
//! and is counted in [`EdgeQueue::lost`] (`get_info`'s `edges_lost`); the
//! queue is sized so that the edge task, which runs as soon as no other
//! task is busy, drains it long before that.
//!
//! [`Engine::edge`]: piconet_engine::Engine::edge

use core::cell::RefCell;

use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::blocking_mutex::Mutex as BlockingMutex;
use embassy_sync::signal::Signal;
use heapless::Deque;
use piconet_engine::{Board, Level};

use crate::Shared;

/// One edge as the interrupt saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawEdge {
    /// The GPIO.
    pub pin: u8,
    /// The level after the edge.
    pub level: Level,
    /// The board's monotonic µs when the interrupt took it.
    pub time_us: u64,
}

struct Inner<const N: usize> {
    edges: Deque<RawEdge, N>,
    lost: u32,
}

/// Edges on their way from the interrupt to the engine (at most `N`).
pub struct EdgeQueue<M: RawMutex, const N: usize> {
    inner: BlockingMutex<M, RefCell<Inner<N>>>,
    ready: Signal<M, ()>,
}

impl<M: RawMutex, const N: usize> Default for EdgeQueue<M, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: RawMutex, const N: usize> EdgeQueue<M, N> {
    /// An empty queue (const: it lives in a static the handler reaches).
    pub const fn new() -> Self {
        EdgeQueue {
            inner: BlockingMutex::new(RefCell::new(Inner {
                edges: Deque::new(),
                lost: 0,
            })),
            ready: Signal::new(),
        }
    }

    /// Queue an edge and wake the edge task; false (and counted as lost)
    /// when the queue is full. Safe to call from an interrupt handler.
    pub fn push(&self, edge: RawEdge) -> bool {
        let queued = self.inner.lock(|i| {
            let mut i = i.borrow_mut();
            match i.edges.push_back(edge) {
                Ok(()) => true,
                Err(_) => {
                    i.lost = i.lost.saturating_add(1);
                    false
                }
            }
        });
        self.ready.signal(());
        queued
    }

    /// Edges lost so far because the queue was full.
    pub fn lost(&self) -> u32 {
        self.inner.lock(|i| i.borrow().lost)
    }

    fn pop(&self) -> Option<RawEdge> {
        self.inner.lock(|i| i.borrow_mut().edges.pop_front())
    }
}

/// Hand queued edges to the engine for as long as the firmware runs.
pub async fn run<M: RawMutex, B: Board, const N: usize>(
    shared: &Shared<M, B>,
    queue: &EdgeQueue<M, N>,
) -> ! {
    loop {
        step(shared, queue).await;
    }
}

/// One round of [`run`]: wait for edges, give at most `N` of them to the
/// engine under one lock (so a flood of edges never holds the lock
/// longer than that), wake the connections with new event lines. Returns
/// how many edges were taken.
pub async fn step<M: RawMutex, B: Board, const N: usize>(
    shared: &Shared<M, B>,
    queue: &EdgeQueue<M, N>,
) -> usize {
    queue.ready.wait().await;
    let mut engine = shared.engine.lock().await;
    let mut taken = 0;
    while taken < N {
        let Some(e) = queue.pop() else { break };
        engine.edge(e.pin.into(), e.level, e.time_us);
        taken += 1;
    }
    if taken == N {
        // More may wait: come back after the others had a turn.
        queue.ready.signal(());
    }
    while let Some(conn) = engine.take_woken() {
        shared.wake_events(conn);
    }
    taken
}
