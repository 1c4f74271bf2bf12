//! Input watches and the event queue of each connection that watches.
//!
//! Fixed-size tables (no allocation, the same on the firmware and on
//! piconetd): at most [`MAX_WATCHERS`] connections watch at once (a
//! connection gives its place back with its last unwatch once its queued
//! lines are written; until another connection takes the place, a new
//! watch of it goes on with its seqs, afterwards it starts again at 1),
//! each at
//! most [`MAX_WATCHES_PER_CONNECTION`] pins, and each has a queue of
//! [`EVENT_QUEUE`] lines waiting to be written. An edge that does not fit
//! is dropped and counted; the count goes out as an overflow line before
//! the next edge that fits, so the seqs delivered plus the dropped counts
//! account for every edge detected.

use heapless::{Deque, Vec};
use piconet_protocol::action::events::Edge;
use piconet_protocol::sink::{Full, Sink};

use crate::board::Level;
use crate::event_line::{write_edge, write_overflow};
use crate::peer::ConnId;

/// Connections that may have watches at the same time.
pub const MAX_WATCHERS: usize = 4;

/// Pins one connection may watch at the same time.
pub const MAX_WATCHES_PER_CONNECTION: usize = 8;

/// Event lines (edges, and the overflow line that counts dropped edges)
/// queued per connection until its transport writes them.
pub const EVENT_QUEUE: usize = 16;

/// One watched pin of one connection.
#[derive(Clone, Copy, Debug)]
struct Watch {
    pin: u8,
    edge: Edge,
    debounce_us: u32,
    /// When the last edge that passed the debounce happened.
    last_us: Option<u64>,
}

/// A line waiting to be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queued {
    Edge {
        pin: u8,
        level: Level,
        time_us: u64,
    },
    /// This many edges right before the next queued one were dropped.
    Overflow {
        dropped: u64,
    },
}

#[derive(Debug)]
struct Watcher {
    conn: ConnId,
    watches: Vec<Watch, MAX_WATCHES_PER_CONNECTION>,
    queue: Deque<Queued, EVENT_QUEUE>,
    /// The seq the next detected edge gets.
    next_seq: u64,
    /// The seq of the first edge `queue`'s front accounts for.
    front_seq: u64,
    /// Edges dropped since the last overflow line was queued.
    dropped: u64,
    /// Something was queued since the transport last asked.
    woken: bool,
}

impl Watcher {
    fn new(conn: ConnId) -> Self {
        Watcher {
            conn,
            watches: Vec::new(),
            queue: Deque::new(),
            next_seq: 1,
            front_seq: 1,
            dropped: 0,
            woken: false,
        }
    }

    fn has_events(&self) -> bool {
        !self.queue.is_empty() || self.dropped > 0
    }

    /// No watch left and nothing to write: another connection may take
    /// this place.
    fn is_idle(&self) -> bool {
        self.watches.is_empty() && !self.has_events()
    }

    fn detected(&mut self, pin: u8, level: Level, time_us: u64) {
        self.next_seq += 1;
        self.woken = true;
        let room = EVENT_QUEUE - self.queue.len();
        let edge = Queued::Edge {
            pin,
            level,
            time_us,
        };
        // Once edges were dropped, the next one is queued only together
        // with the line that counts them, so the order of seqs holds.
        let needed = if self.dropped > 0 { 2 } else { 1 };
        if room < needed {
            self.dropped += 1;
            return;
        }
        if self.dropped > 0 {
            let dropped = core::mem::take(&mut self.dropped);
            let _ = self.queue.push_back(Queued::Overflow { dropped });
        }
        let _ = self.queue.push_back(edge);
    }

    /// Write the next line; `Ok(false)` when none waits.
    fn write_next(&mut self, out: &mut dyn Sink) -> Result<bool, Full> {
        let start = out.len();
        let written = match self.queue.front().copied() {
            Some(Queued::Edge {
                pin,
                level,
                time_us,
            }) => write_edge(out, pin, level, time_us, self.front_seq).map(|()| 1),
            Some(Queued::Overflow { dropped }) => {
                write_overflow(out, dropped, self.front_seq + dropped - 1).map(|()| dropped)
            }
            None if self.dropped > 0 => {
                write_overflow(out, self.dropped, self.next_seq - 1).map(|()| 0)
            }
            None => return Ok(false),
        };
        match written {
            Ok(0) => {
                // The overflow line of the drops after the last queued edge.
                self.front_seq = self.next_seq;
                self.dropped = 0;
            }
            Ok(seqs) => {
                self.front_seq += seqs;
                self.queue.pop_front();
            }
            Err(Full) => {
                out.truncate(start);
                return Err(Full);
            }
        }
        Ok(true)
    }
}

/// Why a watch could not be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// [`MAX_WATCHERS`] other connections already watch.
    Watchers,
    /// This connection already watches [`MAX_WATCHES_PER_CONNECTION`] pins.
    Watches,
}

/// Every connection's watches and queued events.
#[derive(Debug)]
pub(crate) struct Watchers {
    slots: [Option<Watcher>; MAX_WATCHERS],
    /// Bit `p`: some connection watches pin `p` (edges on other pins cost
    /// one test).
    watched: u64,
}

impl Watchers {
    pub(crate) const fn new() -> Self {
        Watchers {
            slots: [const { None }; MAX_WATCHERS],
            watched: 0,
        }
    }

    fn of(&self, conn: ConnId) -> Option<&Watcher> {
        self.slots.iter().flatten().find(|w| w.conn == conn)
    }

    fn of_mut(&mut self, conn: ConnId) -> Option<&mut Watcher> {
        self.slots.iter_mut().flatten().find(|w| w.conn == conn)
    }

    /// Watch `pin` for `conn` (a watch it already has takes the new edge
    /// and debounce).
    pub(crate) fn watch(
        &mut self,
        conn: ConnId,
        pin: u8,
        edge: Edge,
        debounce_ms: u16,
    ) -> Result<(), Refused> {
        let watch = Watch {
            pin,
            edge,
            debounce_us: u32::from(debounce_ms) * 1000,
            last_us: None,
        };
        if self.of(conn).is_none() {
            // A free place, or else one whose connection unwatched its
            // last pin and has nothing left to write: that connection
            // gave it back with its last unwatch (it keeps it, and its
            // seqs go on, only for as long as nobody else needs it).
            let free = match self.slots.iter().position(Option::is_none) {
                Some(i) => i,
                None => self
                    .slots
                    .iter()
                    .position(|s| s.as_ref().is_some_and(Watcher::is_idle))
                    .ok_or(Refused::Watchers)?,
            };
            self.slots[free] = Some(Watcher::new(conn));
        }
        let Some(w) = self.of_mut(conn) else {
            unreachable!("the connection's slot was just found or made");
        };
        match w.watches.iter_mut().find(|x| x.pin == pin) {
            Some(x) => *x = watch,
            None => w.watches.push(watch).map_err(|_| Refused::Watches)?,
        }
        self.watched |= 1 << pin;
        Ok(())
    }

    /// End `conn`'s watch of `pin`; false when it had none.
    pub(crate) fn unwatch(&mut self, conn: ConnId, pin: u8) -> bool {
        let Some(w) = self.of_mut(conn) else {
            return false;
        };
        let before = w.watches.len();
        w.watches.retain(|x| x.pin != pin);
        let removed = w.watches.len() != before;
        self.recount();
        removed
    }

    /// End every connection's watch of `pin` (it is no longer an input).
    pub(crate) fn unwatch_everywhere(&mut self, pin: u8) {
        if self.watched & (1 << pin) == 0 {
            return;
        }
        for w in self.slots.iter_mut().flatten() {
            w.watches.retain(|x| x.pin != pin);
        }
        self.recount();
    }

    /// `conn` ended: its watches and queued events go.
    pub(crate) fn remove(&mut self, conn: ConnId) {
        for s in &mut self.slots {
            if s.as_ref().is_some_and(|w| w.conn == conn) {
                *s = None;
            }
        }
        self.recount();
    }

    pub(crate) fn clear(&mut self) {
        *self = Watchers::new();
    }

    fn recount(&mut self) {
        self.watched = self
            .slots
            .iter()
            .flatten()
            .flat_map(|w| w.watches.iter())
            .fold(0, |m, x| m | 1 << x.pin);
    }

    /// Bit `p`: some connection watches pin `p`.
    pub(crate) fn watched_mask(&self) -> u64 {
        self.watched
    }

    /// True when some connection watches `pin`.
    pub(crate) fn is_watched(&self, pin: u32) -> bool {
        pin < u64::BITS && self.watched & (1 << pin) != 0
    }

    /// `pin` changed to `level` at `time_us`: queue an event for every
    /// watch it passes (debounce, then edge).
    pub(crate) fn edge(&mut self, pin: u32, level: Level, time_us: u64) {
        if !self.is_watched(pin) {
            return;
        }
        let pin = pin as u8;
        for w in self.slots.iter_mut().flatten() {
            let Some(watch) = w.watches.iter_mut().find(|x| x.pin == pin) else {
                continue;
            };
            // Lockout debounce: edges within the debounce time of the last
            // edge that passed are bounces. Every passing edge restarts it,
            // reported or not, so a release's bounces are no "rising".
            if let Some(last) = watch.last_us {
                if time_us.saturating_sub(last) < u64::from(watch.debounce_us) {
                    continue;
                }
            }
            watch.last_us = Some(time_us);
            if watch.edge.reports(level) {
                w.detected(pin, level, time_us);
            }
        }
    }

    /// True when lines wait for `conn`.
    pub(crate) fn has_events(&self, conn: ConnId) -> bool {
        self.of(conn).is_some_and(Watcher::has_events)
    }

    /// Write `conn`'s next event line to `out`: `Ok(false)` when none
    /// waits, `Err(Full)` (nothing written, nothing lost) when it does
    /// not fit.
    pub(crate) fn write_next(&mut self, conn: ConnId, out: &mut dyn Sink) -> Result<bool, Full> {
        match self.of_mut(conn) {
            Some(w) => w.write_next(out),
            None => Ok(false),
        }
    }

    /// A connection that had events queued since the last call (each is
    /// reported once per batch), for the transport to wake.
    pub(crate) fn take_woken(&mut self) -> Option<ConnId> {
        self.slots
            .iter_mut()
            .flatten()
            .find_map(|w| core::mem::take(&mut w.woken).then_some(w.conn))
    }
}
