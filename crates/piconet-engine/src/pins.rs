//! The pin registry: what each pin was set up as, and its lease.

use crate::board::Level;
use crate::time::Instant;

/// Pins numbered at or above this do not exist for the engine. Covers the
/// RP2040 (30) and the Raspberry Pi's 54 lines with a fixed-size table.
pub const MAX_PINS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Slot {
    #[default]
    Free,
    Input,
    Output {
        /// The level the pin returns to when a lease ends.
        safe: Level,
        /// When the pin must be back at `safe`.
        lease: Option<Instant>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Pins {
    slots: [Slot; MAX_PINS],
    /// Earliest lease deadline, kept so the per-command check is one
    /// comparison rather than a scan.
    next: Option<Instant>,
}

impl Pins {
    pub(crate) const fn new() -> Self {
        Pins {
            slots: [Slot::Free; MAX_PINS],
            next: None,
        }
    }

    /// The slot of a pin below `MAX_PINS`.
    pub(crate) fn get(&self, pin: u32) -> Slot {
        self.slots[pin as usize]
    }

    pub(crate) fn set(&mut self, pin: u32, slot: Slot) {
        self.slots[pin as usize] = slot;
        self.refresh_next();
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.next
    }

    /// The due lease with the earliest deadline (lowest pin on ties).
    pub(crate) fn earliest_due(&self, now: Instant) -> Option<(u32, Level, Instant)> {
        if self.next.is_none_or(|n| n > now) {
            return None;
        }
        self.leases()
            .filter(|&(_, _, d)| d <= now)
            .min_by_key(|&(p, _, d)| (d, p))
    }

    /// Every active lease: pin, safe level, deadline.
    pub(crate) fn leases(&self) -> impl Iterator<Item = (u32, Level, Instant)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(pin, s)| match *s {
                Slot::Output {
                    safe,
                    lease: Some(d),
                } => Some((pin as u32, safe, d)),
                _ => None,
            })
    }

    pub(crate) fn first_lease(&self) -> Option<(u32, Level, Instant)> {
        self.leases().next()
    }

    pub(crate) fn configured(&self) -> usize {
        self.slots.iter().filter(|s| **s != Slot::Free).count()
    }

    pub(crate) fn clear(&mut self) {
        *self = Pins::new();
    }

    fn refresh_next(&mut self) {
        self.next = self.leases().map(|(_, _, d)| d).min();
    }
}
