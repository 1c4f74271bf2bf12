//! Kernel edge events on their way to the engine (the GPIO chip board).
//!
//! Each watched line's reader (in `gpiochip`) hands every event the kernel
//! reports to its [`LineEdges`], which puts the kernel's timestamp on the
//! engine's clock, counts the events the kernel dropped (gaps in the
//! line's seqno) and queues the edge, at most [`EDGE_QUEUE`] of them;
//! [`pump`] hands queued edges to `Engine::edge` under the engine lock, the
//! way `sim_input`'s edges reach it, so debounce and the per-connection
//! queues are the engine's, and `Shared::with_engine` wakes the
//! connections that got event lines. An edge lost before the engine saw
//! it (queue full, or dropped by the kernel) has no seq: it is counted in
//! `get_info`'s `edges_lost`, as on the firmware.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use piconet_engine::Level;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::server::Shared;

/// Edges that may wait between the kernel's readers and the engine. The
/// pump takes them as soon as it gets the engine lock; this covers a
/// burst while a long command (an I2C transfer) holds it.
pub const EDGE_QUEUE: usize = 1024;

/// Edges the pump hands to the engine under one lock, so a flood of
/// edges never keeps commands waiting longer than that.
const PUMP_BATCH: usize = 64;

/// One edge as the kernel reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelEdge {
    /// The line.
    pub offset: u32,
    /// A rising edge (else falling).
    pub rising: bool,
    /// The kernel's CLOCK_MONOTONIC nanoseconds when the edge happened.
    pub timestamp_ns: u64,
    /// The kernel's count of this line's events (1, 2, ...; a gap means
    /// the kernel's buffer was full and it dropped events).
    pub line_seqno: u32,
}

/// An edge on the engine's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Edge {
    pin: u32,
    level: Level,
    time_us: u64,
}

/// Where the GPIO chip's edges go: the queue to [`pump`] and the count of
/// edges lost on the way. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EdgeSender {
    tx: mpsc::Sender<Edge>,
    lost: Arc<AtomicU64>,
    /// CLOCK_MONOTONIC at the engine clock's origin, in nanoseconds.
    origin_ns: u64,
}

/// The pump's end of the queue.
#[derive(Debug)]
pub struct EdgeReceiver(mpsc::Receiver<Edge>);

/// A new queue for edges on `clock`.
pub(crate) fn channel(clock: Clock) -> (EdgeSender, EdgeReceiver) {
    let (tx, rx) = mpsc::channel(EDGE_QUEUE);
    let sender = EdgeSender {
        tx,
        lost: Arc::new(AtomicU64::new(0)),
        origin_ns: clock.monotonic_origin_ns(),
    };
    (sender, EdgeReceiver(rx))
}

impl EdgeSender {
    /// Edges lost before the engine saw them (`get_info`'s `edges_lost`).
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// The sender for one line's edges, from the first event it reports.
    pub fn line(&self, offset: u32) -> LineEdges {
        LineEdges {
            sender: self.clone(),
            offset,
            last_seqno: None,
        }
    }

    /// `timestamp_ns` (CLOCK_MONOTONIC) on the engine's clock, in µs.
    fn engine_us(&self, timestamp_ns: u64) -> u64 {
        timestamp_ns.saturating_sub(self.origin_ns) / 1000
    }

    /// CLOCK_MONOTONIC at the engine clock's origin, in nanoseconds.
    #[cfg(test)]
    pub(crate) fn origin_ns(&self) -> u64 {
        self.origin_ns
    }

    fn count_lost(&self, n: u64) {
        self.lost.fetch_add(n, Ordering::Relaxed);
    }
}

/// The edges of one line with edge detection on.
#[derive(Debug)]
pub struct LineEdges {
    sender: EdgeSender,
    offset: u32,
    last_seqno: Option<u32>,
}

impl LineEdges {
    /// Queue one edge the kernel reported for this line (never waits).
    /// Returns false when it was lost (the queue was full).
    pub fn deliver(&mut self, edge: KernelEdge) -> bool {
        debug_assert_eq!(edge.offset, self.offset);
        // A seqno that does not follow starts a new count (the kernel
        // restarts it when edge detection is set up again).
        if let Some(last) = self.last_seqno {
            if edge.line_seqno > last {
                let skipped = edge.line_seqno - last - 1;
                if skipped > 0 {
                    tracing::warn!(
                        line = self.offset,
                        skipped,
                        "the kernel dropped GPIO edge events (its buffer was full)"
                    );
                    self.sender.count_lost(skipped.into());
                }
            }
        }
        self.last_seqno = Some(edge.line_seqno);
        let edge = Edge {
            pin: self.offset,
            level: Level::from_bool(edge.rising),
            time_us: self.sender.engine_us(edge.timestamp_ns),
        };
        match self.sender.tx.try_send(edge) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.sender.count_lost(1);
                false
            }
            // The daemon is stopping: nobody would see it.
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Hand queued edges to the engine until every sender is gone.
pub(crate) async fn pump(shared: Arc<Shared>, edges: EdgeReceiver) {
    let EdgeReceiver(mut rx) = edges;
    let mut batch = Vec::with_capacity(PUMP_BATCH);
    while rx.recv_many(&mut batch, PUMP_BATCH).await > 0 {
        shared.with_engine(|engine| {
            for e in batch.drain(..) {
                engine.edge(e.pin, e.level, e.time_us);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(seqno: u32, ns: u64) -> KernelEdge {
        KernelEdge {
            offset: 4,
            rising: seqno % 2 == 1,
            timestamp_ns: ns,
            line_seqno: seqno,
        }
    }

    #[tokio::test]
    async fn kernel_edges_are_put_on_the_engine_clock_and_gaps_counted() {
        let (tx, EdgeReceiver(mut rx)) = channel(Clock::start());
        let origin = tx.origin_ns();
        let mut line = tx.line(4);
        assert!(line.deliver(edge(1, origin + 1_500_000)));
        // The kernel dropped seqnos 2 and 3.
        assert!(line.deliver(edge(4, origin + 2_000_999)));
        // Detection set up again: the count restarts, no loss.
        assert!(line.deliver(edge(1, origin + 3_000_000)));
        assert_eq!(tx.lost(), 2);
        let got: Vec<Edge> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(
            got,
            [
                Edge {
                    pin: 4,
                    level: Level::High,
                    time_us: 1500
                },
                Edge {
                    pin: 4,
                    level: Level::Low,
                    time_us: 2000
                },
                Edge {
                    pin: 4,
                    level: Level::High,
                    time_us: 3000
                },
            ]
        );
    }

    #[tokio::test]
    async fn a_full_queue_counts_the_edges_it_loses() {
        let (tx, EdgeReceiver(mut rx)) = channel(Clock::start());
        let mut line = tx.line(4);
        let origin = tx.origin_ns();
        for i in 0..EDGE_QUEUE as u32 + 3 {
            let queued = line.deliver(edge(i + 1, origin + u64::from(i) * 1000));
            assert_eq!(queued, (i as usize) < EDGE_QUEUE, "edge {i}");
        }
        assert_eq!(tx.lost(), 3);
        let mut n = 0;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, EDGE_QUEUE);
    }

    #[test]
    fn the_monotonic_origin_is_the_clock_origin_on_the_kernel_clock() {
        let clock = Clock::start();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let origin = clock.monotonic_origin_ns();
        let now = crate::clock::monotonic_ns();
        let since = now - origin;
        // The engine's clock and CLOCK_MONOTONIC agree on the elapsed time
        // (both are CLOCK_MONOTONIC underneath on Linux).
        let engine = clock.now().as_nanos();
        assert!(since >= 20_000_000, "{since}");
        assert!(since.abs_diff(engine) < 5_000_000, "{since} vs {engine}");
    }
}
