//! Who gets a connection slot: a sans-IO admission policy shared by the
//! host daemon and the firmware (its socket listeners).
//!
//! A server has a fixed number of connection slots. Handing them out first
//! come, first served lets one peer take them all with idle sockets and
//! lock everyone else out until the idle timeout (issue 12.3). The policy
//! here has two rules, applied when a peer at address `A` connects:
//!
//! 1. **Per-address limit.** One address holds at most `per_address`
//!    slots. Over it, that address's own longest-idle connection is
//!    evicted to make room if it has been idle for `evictable_after`;
//!    otherwise the newcomer is refused ([`Refusal::AddressFull`]). A peer
//!    that leaks connections recycles its own, and cannot crowd out others
//!    while `per_address` is below the capacity.
//! 2. **Eviction of the longest idle.** When every slot is taken, the
//!    connection that has been idle longest (over all addresses) is evicted
//!    if it has been idle for `evictable_after`; otherwise the newcomer is
//!    refused ([`Refusal::Full`]). Idle sockets, however many addresses
//!    they come from, therefore cannot keep a new client out for longer
//!    than `evictable_after`, while connections that are actually used
//!    (they spoke within `evictable_after`) are never taken away.
//!
//! Why not only one of them: a per-address limit alone is beaten by a few
//! addresses (or an IPv6 prefix) and keeps slots idle; eviction alone lets
//! one address keep every slot busy with cheap traffic. Together a
//! legitimate client from another address always finds a slot (rule 1)
//! unless every slot is in real use, and idle ones make way (rule 2).
//!
//! The table knows nothing of sockets or clocks: the caller passes the
//! current [`Instant`], reports activity with [`Slots::touch`], and acts
//! on the answer (closes the evicted connection, refuses the newcomer).
//! A [`SlotId`] carries a generation, so releasing a slot twice, or
//! releasing an evicted connection after its slot was reused, is harmless.
//! The same table, with its own limits, bounds pending TLS handshakes
//! (age instead of idleness: a handshake is never touched).
//!
//! Storage is the caller's (`[Option<Slot<A>>; N]` on the firmware, a
//! `Vec` on the host), so this module needs no allocator.

use core::time::Duration;

use crate::Instant;

/// One occupied slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot<A> {
    addr: A,
    generation: u32,
    /// When the connection was admitted.
    since: Instant,
    /// When it last did something ([`Slots::touch`]); `since` at first.
    active: Instant,
}

/// A handle to an admitted connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotId {
    index: u32,
    generation: u32,
}

impl SlotId {
    /// The slot's position in the storage (below the capacity): the
    /// firmware keeps per-slot state (the serving buffers) at it.
    pub fn index(&self) -> usize {
        self.index as usize
    }
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot is taken by connections active within `evictable_after`.
    Full,
    /// This address holds its `per_address` slots, all recently active.
    AddressFull,
}

/// A connection let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// The newcomer's slot.
    pub id: SlotId,
    /// A connection whose slot the newcomer took: the caller closes it.
    pub evicted: Option<SlotId>,
}

/// What admitting a peer now would do, without doing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    Free(usize),
    Evict(usize),
}

/// The admission limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotLimits {
    /// Most slots one address holds (at least 1).
    pub per_address: usize,
    /// A connection idle (or, for handshakes, pending) at least this long
    /// may be evicted for a newcomer.
    pub evictable_after: Duration,
}

/// The slot table. `S` is the storage: a fixed array or a `Vec`, whose
/// length is the number of slots.
#[derive(Clone, Debug)]
pub struct Slots<A, S> {
    slots: S,
    limits: SlotLimits,
    next_generation: u32,
    used: usize,
    _addr: core::marker::PhantomData<A>,
}

impl<A, S> Slots<A, S>
where
    A: Copy + Eq,
    S: AsRef<[Option<Slot<A>>]> + AsMut<[Option<Slot<A>>]>,
{
    /// A table over `storage`, whose slots must all be `None`.
    pub fn new(mut storage: S, limits: SlotLimits) -> Self {
        storage.as_mut().iter_mut().for_each(|s| *s = None);
        Slots {
            slots: storage,
            limits: SlotLimits {
                per_address: limits.per_address.max(1),
                ..limits
            },
            next_generation: 0,
            used: 0,
            _addr: core::marker::PhantomData,
        }
    }

    /// A table over `storage` in a `const` context (a `static` on the
    /// firmware). Unlike [`Slots::new`] it cannot clear the storage, so
    /// the caller passes it empty (`[const { None }; N]`); a slot that is
    /// not would never be counted nor freed.
    pub const fn with_empty(storage: S, limits: SlotLimits) -> Self {
        Slots {
            slots: storage,
            limits: SlotLimits {
                per_address: if limits.per_address == 0 {
                    1
                } else {
                    limits.per_address
                },
                evictable_after: limits.evictable_after,
            },
            next_generation: 0,
            used: 0,
            _addr: core::marker::PhantomData,
        }
    }

    /// The limits in force (`per_address` at least 1).
    pub fn limits(&self) -> SlotLimits {
        self.limits
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.as_ref().len()
    }

    /// Slots in use.
    pub fn len(&self) -> usize {
        self.used
    }

    /// Whether no slot is in use.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Slots held by `addr`.
    pub fn count(&self, addr: A) -> usize {
        self.occupied().filter(|(_, s)| s.addr == addr).count()
    }

    fn occupied(&self) -> impl Iterator<Item = (usize, &Slot<A>)> {
        self.slots
            .as_ref()
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
    }

    /// The longest-idle slot among those `pick` accepts, if evictable.
    fn victim(&self, now: Instant, pick: impl Fn(&Slot<A>) -> bool) -> Option<usize> {
        self.occupied()
            .filter(|(_, s)| pick(s))
            .min_by_key(|(_, s)| (s.active, s.since))
            .filter(|(_, s)| now.saturating_since(s.active) >= self.limits.evictable_after)
            .map(|(i, _)| i)
    }

    fn plan(&self, now: Instant, addr: A) -> Result<Plan, Refusal> {
        if self.count(addr) >= self.limits.per_address {
            return self
                .victim(now, |s| s.addr == addr)
                .map(Plan::Evict)
                .ok_or(Refusal::AddressFull);
        }
        if let Some(free) = self.slots.as_ref().iter().position(Option::is_none) {
            return Ok(Plan::Free(free));
        }
        self.victim(now, |_| true)
            .map(Plan::Evict)
            .ok_or(Refusal::Full)
    }

    /// Whether `addr` would be admitted now (the TLS server asks before it
    /// spends a handshake on a peer).
    pub fn check(&self, now: Instant, addr: A) -> Result<(), Refusal> {
        self.plan(now, addr).map(|_| ())
    }

    /// Admit `addr` now, evicting a connection if the rules say so.
    pub fn admit(&mut self, now: Instant, addr: A) -> Result<Admitted, Refusal> {
        let (index, evicted) = match self.plan(now, addr)? {
            Plan::Free(i) => {
                self.used += 1;
                (i, None)
            }
            Plan::Evict(i) => (i, self.id_at(i)),
        };
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1);
        self.slots.as_mut()[index] = Some(Slot {
            addr,
            generation,
            since: now,
            active: now,
        });
        Ok(Admitted {
            id: SlotId {
                index: index as u32,
                generation,
            },
            evicted,
        })
    }

    fn id_at(&self, index: usize) -> Option<SlotId> {
        self.slots.as_ref()[index].map(|s| SlotId {
            index: index as u32,
            generation: s.generation,
        })
    }

    fn get_mut(&mut self, id: SlotId) -> Option<&mut Option<Slot<A>>> {
        self.slots
            .as_mut()
            .get_mut(id.index as usize)
            .filter(|s| s.is_some_and(|s| s.generation == id.generation))
    }

    /// `id` did something at `now` (a command arrived): it is not idle.
    /// Ignored for a released or evicted id.
    pub fn touch(&mut self, id: SlotId, now: Instant) {
        if let Some(Some(slot)) = self.get_mut(id) {
            slot.active = slot.active.max(now);
        }
    }

    /// The connection `id` ended. Returns false if it had already been
    /// released or evicted.
    pub fn release(&mut self, id: SlotId) -> bool {
        match self.get_mut(id) {
            Some(slot) => {
                *slot = None;
                self.used -= 1;
                true
            }
            None => false,
        }
    }

    /// Whether `id` still holds its slot (false once evicted or released).
    pub fn holds(&self, id: SlotId) -> bool {
        self.id_at(id.index as usize) == Some(id)
    }
}

/// The error line a refused or evicted connection gets: one text on
/// piconetd and the firmware, each naming its own setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice<'a> {
    /// No slot for a newcomer.
    Refused {
        /// Which rule refused it.
        refusal: Refusal,
        /// That rule's limit: the slot count for [`Refusal::Full`], the
        /// per-address limit for [`Refusal::AddressFull`].
        limit: usize,
        /// Where the limit is set (`piconetd --max-connections`).
        setting: &'a str,
    },
    /// This idle connection made room for a newcomer.
    Evicted {
        /// Where the slot count is set.
        setting: &'a str,
    },
}

impl piconet_protocol::response::Message for Notice<'_> {
    fn class(&self) -> piconet_protocol::ErrorClass {
        match self {
            Notice::Refused { .. } => piconet_protocol::ErrorClass::ConnectionRefusedError,
            Notice::Evicted { .. } => piconet_protocol::ErrorClass::TimeoutError,
        }
    }

    fn write(
        &self,
        m: &mut piconet_protocol::response::MessageWriter<'_>,
    ) -> Result<(), piconet_protocol::Full> {
        match *self {
            Notice::Refused {
                refusal: Refusal::Full,
                limit,
                setting,
            } => {
                m.text("server busy: ")?;
                m.uint(limit as u64)?;
                m.text(" connections already open and in use (")?;
                m.text(setting)?;
                m.text("), try again later")
            }
            Notice::Refused {
                refusal: Refusal::AddressFull,
                limit,
                setting,
            } => {
                m.text("server busy: your address already has ")?;
                m.uint(limit as u64)?;
                m.text(" connections open and in use (")?;
                m.text(setting)?;
                m.text("); close one or try again later")
            }
            Notice::Evicted { setting } => {
                m.text("connection closed: the server is full and this connection was idle the longest (")?;
                m.text(setting)?;
                m.text(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn table(per_address: usize) -> Slots<u8, [Option<Slot<u8>>; 8]> {
        Slots::new(
            [None; 8],
            SlotLimits {
                per_address,
                evictable_after: SEC,
            },
        )
    }

    #[test]
    fn one_address_cannot_take_every_slot() {
        let mut s = table(4);
        for _ in 0..4 {
            assert_eq!(s.admit(t(0), 1).unwrap().evicted, None);
        }
        // Its fifth is refused while its four are fresh...
        assert_eq!(s.admit(t(10), 1), Err(Refusal::AddressFull));
        // ...and another address is served at once.
        assert!(s.admit(t(10), 2).is_ok());
        assert_eq!(s.count(1), 4);
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn over_its_limit_an_address_recycles_its_own_longest_idle() {
        let mut s = table(2);
        let a = s.admit(t(0), 1).unwrap().id;
        let b = s.admit(t(100), 1).unwrap().id;
        s.touch(a, t(500));
        let c = s.admit(t(1200), 1).unwrap();
        assert_eq!(c.evicted, Some(b), "b idle since 100 ms, a only since 500");
        assert!(!s.holds(b));
        assert!(!s.release(b), "an evicted id releases nothing");
        assert_eq!(s.count(1), 2);
    }

    #[test]
    fn a_full_table_evicts_the_longest_idle_of_any_address() {
        let mut s = table(8);
        let ids: heapless::Vec<SlotId, 8> = (0..8u8)
            .map(|i| s.admit(t(u64::from(i)), i).unwrap().id)
            .collect();
        for (i, id) in ids.iter().enumerate() {
            if i != 3 {
                s.touch(*id, t(900));
            }
        }
        // Nothing idle for a second yet: refused.
        assert_eq!(s.admit(t(950), 9), Err(Refusal::Full));
        let new = s.admit(t(1003), 9).unwrap();
        assert_eq!(new.evicted, Some(ids[3]));
        assert_eq!(s.len(), 8);
        // The rest were active at 900: not evictable until 1900.
        assert_eq!(s.admit(t(1800), 10), Err(Refusal::Full));
        assert_eq!(s.check(t(1900), 10), Ok(()));
    }

    #[test]
    fn released_slots_are_reused_and_double_release_is_harmless() {
        let mut s = table(8);
        let ids: heapless::Vec<SlotId, 8> = (0..8).map(|_| s.admit(t(0), 1).unwrap().id).collect();
        assert!(s.release(ids[5]));
        assert!(!s.release(ids[5]));
        assert_eq!(s.len(), 7);
        let again = s.admit(t(1), 2).unwrap();
        assert_eq!(again.evicted, None);
        assert_ne!(again.id, ids[5], "a new generation");
        assert!(!s.release(ids[5]), "the old id does not free the new slot");
        assert!(s.holds(again.id));
        s.touch(ids[5], t(5000));
        assert!(s.release(again.id));
    }

    #[test]
    fn pending_handshakes_are_evicted_by_age() {
        // Never touched: the oldest is the longest "idle".
        let mut s = table(8);
        let first = s.admit(t(0), 1).unwrap().id;
        for i in 1..8 {
            s.admit(t(i * 100), 1).unwrap();
        }
        assert_eq!(s.admit(t(1000), 2).unwrap().evicted, Some(first));
    }

    #[test]
    fn a_const_table_is_empty_and_admits() {
        let mut s: Slots<u8, [Option<Slot<u8>>; 2]> = Slots::with_empty(
            [const { None }; 2],
            SlotLimits {
                per_address: 0,
                evictable_after: SEC,
            },
        );
        assert!(s.is_empty());
        assert_eq!(s.limits().per_address, 1);
        let a = s.admit(t(0), 1).unwrap().id;
        assert!(a.index() < 2);
        assert_eq!(s.admit(t(0), 1), Err(Refusal::AddressFull));
        assert!(s.admit(t(0), 2).is_ok());
        assert_eq!(s.admit(t(0), 3), Err(Refusal::Full));
    }

    #[test]
    fn notices_name_the_limit_and_its_setting() {
        let line = |n: &Notice<'_>| {
            let mut out = heapless::Vec::<u8, 256>::new();
            piconet_protocol::response::write_error_line(&mut out, n).unwrap();
            String::from_utf8(out.to_vec()).unwrap()
        };
        let full = line(&Notice::Refused {
            refusal: Refusal::Full,
            limit: 3,
            setting: "the sockets",
        });
        assert!(
            full.contains("server busy: 3 connections already open and in use (the sockets)"),
            "{full}"
        );
        assert!(full.contains("ConnectionRefusedError"), "{full}");
        let addr = line(&Notice::Refused {
            refusal: Refusal::AddressFull,
            limit: 2,
            setting: "per address",
        });
        assert!(
            addr.contains("your address already has 2 connections"),
            "{addr}"
        );
        let evicted = line(&Notice::Evicted { setting: "x" });
        assert!(
            evicted.contains("TimeoutError") && evicted.contains("idle the longest (x)"),
            "{evicted}"
        );
    }

    #[test]
    fn a_per_address_limit_of_zero_means_one() {
        let mut s = table(0);
        assert!(s.admit(t(0), 1).is_ok());
        assert_eq!(s.admit(t(0), 1), Err(Refusal::AddressFull));
    }
}
