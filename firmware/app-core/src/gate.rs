//! Who gets one of the firmware's few connection slots: the engine's
//! [`Slots`] policy, the one piconetd runs (issue 12.3), shared by the
//! socket listeners.
//!
//! The firmware serves `SLOTS` clients at once but runs `LISTENERS`
//! (more) sockets: embassy-net answers a SYN only when a socket is
//! listening, so without a spare one a newcomer would get a bare reset
//! while the slots are full, and nobody could tell it "busy" or make room
//! for it. Each listener, once it has accepted, asks the gate:
//!
//! - admitted: it serves the client in the slot it got (and the serving
//!   buffers kept at that slot's index); if the policy evicted an idle
//!   connection for it, that connection's listener is woken to close it;
//! - refused (its address holds `per_address` slots, or every slot was
//!   active within `evictable_after`): it writes the refusal line and
//!   closes.
//!
//! A connection counts as active when a read brings bytes
//! ([`Ticket::touch`]): a TLS handshake that never finishes, a client that
//! stays silent, and one that sends but never reads (the loop stops
//! reading while its reply cannot be written) all become evictable after
//! `evictable_after`.

use core::cell::RefCell;
use core::time::Duration;

use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::signal::Signal;
use piconet_engine::slots::{Refusal, Slot, SlotId, SlotLimits, Slots};
use piconet_engine::Instant;

/// The firmware's slot limits.
pub mod limits {
    use super::*;

    /// Slots one address may hold: with 3 sockets, one address keeps at
    /// least one free for everyone else (piconetd's default is half its
    /// connections; half of 3 rounded up).
    pub const PER_ADDRESS: usize = 2;
    /// A connection that brought nothing for this long may be closed for
    /// a newcomer (piconetd's `--evict-idle-after-secs` default).
    pub const EVICTABLE_AFTER: Duration = Duration::from_secs(1);
    /// Both, as the engine takes them.
    pub const SLOT_LIMITS: SlotLimits = SlotLimits {
        per_address: PER_ADDRESS,
        evictable_after: EVICTABLE_AFTER,
    };
}

struct Table<A, const SLOTS: usize> {
    slots: Slots<A, [Option<Slot<A>>; SLOTS]>,
    /// Which listener holds each slot (valid while the slot is taken).
    holders: [u8; SLOTS],
}

/// The slot table of `SLOTS` connections, shared by `LISTENERS` listeners.
pub struct Gate<M: RawMutex, A: Copy + Eq, const SLOTS: usize, const LISTENERS: usize> {
    table: Mutex<M, RefCell<Table<A, SLOTS>>>,
    /// Raised for a listener whose connection lost its slot.
    evicted: [Signal<M, ()>; LISTENERS],
}

/// An admitted connection's slot, released when dropped.
pub struct Ticket<'g, M: RawMutex, A: Copy + Eq, const SLOTS: usize, const LISTENERS: usize> {
    gate: &'g Gate<M, A, SLOTS, LISTENERS>,
    id: SlotId,
    listener: usize,
    /// The connection it evicted, if any (for the log and the tests).
    evicted: Option<SlotId>,
}

impl<M: RawMutex, A: Copy + Eq, const SLOTS: usize, const LISTENERS: usize>
    Gate<M, A, SLOTS, LISTENERS>
{
    /// An empty gate (`const`: the firmware keeps it in a `static`).
    pub const fn new(limits: SlotLimits) -> Self {
        Gate {
            table: Mutex::new(RefCell::new(Table {
                slots: Slots::with_empty([const { None }; SLOTS], limits),
                holders: [0; SLOTS],
            })),
            evicted: [const { Signal::new() }; LISTENERS],
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> SlotLimits {
        self.table.lock(|t| t.borrow().slots.limits())
    }

    /// Slots in use.
    pub fn len(&self) -> usize {
        self.table.lock(|t| t.borrow().slots.len())
    }

    /// Whether no slot is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Admit a connection from `addr` accepted by `listener` (below
    /// `LISTENERS`) at `now`, evicting an idle one if the policy says so:
    /// that connection's listener is woken ([`Ticket::evicted`]).
    pub fn admit(
        &self,
        listener: usize,
        now: Instant,
        addr: A,
    ) -> Result<Ticket<'_, M, A, SLOTS, LISTENERS>, Refusal> {
        assert!(listener < LISTENERS && listener <= usize::from(u8::MAX));
        let (id, victim) = self.table.lock(|t| {
            let mut t = t.borrow_mut();
            let admitted = t.slots.admit(now, addr)?;
            let victim = admitted.evicted.map(|v| usize::from(t.holders[v.index()]));
            t.holders[admitted.id.index()] = listener as u8;
            Ok::<_, Refusal>((admitted, victim))
        })?;
        // A wake-up left from this listener's previous connection (evicted
        // as it ended by itself) must not end the new one.
        self.evicted[listener].reset();
        if let Some(v) = victim {
            self.evicted[v].signal(());
        }
        Ok(Ticket {
            gate: self,
            id: id.id,
            listener,
            evicted: id.evicted,
        })
    }
}

impl<M: RawMutex, A: Copy + Eq, const SLOTS: usize, const LISTENERS: usize>
    Ticket<'_, M, A, SLOTS, LISTENERS>
{
    /// The slot's index (below `SLOTS`): where its serving buffers are.
    pub fn slot(&self) -> usize {
        self.id.index()
    }

    /// Whether admitting this connection evicted another.
    pub fn evicted_another(&self) -> bool {
        self.evicted.is_some()
    }

    /// Whether this connection still holds its slot.
    pub fn holds(&self) -> bool {
        self.gate.table.lock(|t| t.borrow().slots.holds(self.id))
    }

    /// A read brought bytes at `now`: the connection is not idle.
    pub fn touch(&self, now: Instant) {
        self.gate
            .table
            .lock(|t| t.borrow_mut().slots.touch(self.id, now));
    }

    /// Completes when this connection lost its slot to a newcomer.
    pub async fn evicted(&self) {
        self.gate.evicted[self.listener].wait().await
    }
}

impl<M: RawMutex, A: Copy + Eq, const SLOTS: usize, const LISTENERS: usize> Drop
    for Ticket<'_, M, A, SLOTS, LISTENERS>
{
    fn drop(&mut self) {
        // False (harmless) when it was evicted: the slot is the newcomer's.
        self.gate
            .table
            .lock(|t| t.borrow_mut().slots.release(self.id));
    }
}
