//! The pin registry: what each pin was set up as, and its lease.

use crate::board::{I2cLine, Level, Pull, PwmState};
use crate::peer::ConnId;
use crate::time::Instant;

/// Pins numbered at or above this do not exist for the engine. Covers the
/// RP2040 (30) and the Raspberry Pi's 54 lines with a fixed-size table.
pub const MAX_PINS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub(crate) enum Slot {
    #[default]
    Free,
    Input {
        /// The pull resistor it was set up with.
        pull: Pull,
    },
    Output {
        /// The level the pin returns to when a lease ends.
        safe: Level,
        /// The running lease, if any.
        lease: Option<Lease>,
    },
    Pwm {
        /// What the pin returns to when a lease ends.
        safe: PwmState,
        /// What it runs at now.
        state: PwmState,
        /// The running lease, if any.
        lease: Option<Lease>,
    },
    /// An analogue input.
    Adc,
    /// A line of a set-up I2C bus.
    I2c { bus: u8, line: I2cLine },
}

/// What a leased pin returns to when its lease ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Safe {
    /// An output's safe level.
    Level(Level),
    /// A PWM pin's safe duty and frequency.
    Pwm(PwmState),
}

/// For logs: `level 0`, `duty 0.25 at 1000 Hz`.
impl core::fmt::Display for Safe {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Safe::Level(l) => write!(f, "level {}", l.as_u8()),
            Safe::Pwm(p) => write!(f, "duty {} at {} Hz", p.duty, p.frequency),
        }
    }
}

/// A running lease: until when, and who wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lease {
    /// When the pin must be back at its safe level.
    pub(crate) deadline: Instant,
    /// The connection whose `write_pin` started it.
    pub(crate) conn: ConnId,
    /// The pin also reverts when `conn` ends.
    pub(crate) release_on_disconnect: bool,
    /// The client (its index in the engine's client list) whose write
    /// started it; `None` without client authentication.
    pub(crate) owner: Option<u8>,
}

impl Lease {
    /// A lease bound to its deadline alone (a revert's retry, or a write
    /// that did not ask to be released on disconnect).
    pub(crate) const fn until(deadline: Instant, conn: ConnId) -> Self {
        Lease {
            deadline,
            conn,
            release_on_disconnect: false,
            owner: None,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Pins {
    slots: [Slot; MAX_PINS],
    /// Bit `p` set: pin `p` has a lease. Scans visit only leased pins.
    leased: u64,
    /// Earliest lease deadline, kept so the per-command check is one
    /// comparison rather than a scan.
    next: Option<Instant>,
}

const _: () = assert!(MAX_PINS <= u64::BITS as usize);

#[inline(always)]
fn lease_of_ref(slot: &Slot) -> Option<Instant> {
    match slot {
        Slot::Output { lease, .. } | Slot::Pwm { lease, .. } => lease.as_ref().map(|l| l.deadline),
        _ => None,
    }
}

/// The lease of a slot and what the pin returns to at its end.
#[inline(always)]
fn leased(slot: Slot) -> Option<(Safe, Lease)> {
    match slot {
        Slot::Output {
            safe,
            lease: Some(l),
        } => Some((Safe::Level(safe), l)),
        Slot::Pwm {
            safe,
            lease: Some(l),
            ..
        } => Some((Safe::Pwm(safe), l)),
        _ => None,
    }
}

impl Pins {
    pub(crate) const fn new() -> Self {
        Pins {
            slots: [Slot::Free; MAX_PINS],
            leased: 0,
            next: None,
        }
    }

    /// The slot of a pin below `MAX_PINS`.
    pub(crate) fn get(&self, pin: u32) -> Slot {
        self.slots[pin as usize]
    }

    /// The slot of a pin below `MAX_PINS`, borrowed: the hot path reads
    /// one field of it rather than copying the whole slot.
    #[inline(always)]
    pub(crate) fn slot(&self, pin: u32) -> &Slot {
        &self.slots[pin as usize]
    }

    pub(crate) fn set(&mut self, pin: u32, slot: Slot) {
        let place = &mut self.slots[pin as usize];
        let old = lease_of_ref(place);
        let new = lease_of_ref(&slot);
        *place = slot;
        self.leases_changed(pin, old, new);
    }

    /// Replace the lease of an output or PWM pin, leaving the rest of its
    /// slot as it is (`write_pin`'s path: it writes 16 bytes, not a
    /// whole slot). Other slots have no lease and are left alone.
    #[inline(always)]
    pub(crate) fn set_lease(&mut self, pin: u32, lease: Option<Lease>) {
        let old = match &mut self.slots[pin as usize] {
            Slot::Output { lease: l, .. } | Slot::Pwm { lease: l, .. } => {
                core::mem::replace(l, lease).map(|l| l.deadline)
            }
            _ => return,
        };
        self.leases_changed(pin, old, lease.map(|l| l.deadline));
    }

    /// Keep the lease bits and the earliest deadline after `pin`'s lease
    /// went from `old` to `new`.
    #[inline(always)]
    fn leases_changed(&mut self, pin: u32, old: Option<Instant>, new: Option<Instant>) {
        let bit = 1u64 << pin;
        if new.is_some() {
            self.leased |= bit;
        } else {
            self.leased &= !bit;
        }
        self.next = match (old, new) {
            // The earliest lease may have moved later or ended: look again.
            (Some(o), _) if Some(o) == self.next && new.is_none_or(|n| n > o) => {
                self.leases().map(|(_, _, d)| d).min()
            }
            // Otherwise the old lease did not decide the minimum.
            _ => match (self.next, new) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        };
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.next
    }

    /// The due lease with the earliest deadline (lowest pin on ties).
    pub(crate) fn earliest_due(&self, now: Instant) -> Option<(u32, Safe, Instant)> {
        if self.next.is_none_or(|n| n > now) {
            return None;
        }
        self.leases()
            .filter(|&(_, _, d)| d <= now)
            .min_by_key(|&(p, _, d)| (d, p))
    }

    /// Every active lease, ascending pin: pin, safe state, deadline.
    pub(crate) fn leases(&self) -> impl Iterator<Item = (u32, Safe, Instant)> + '_ {
        let mut bits = self.leased;
        core::iter::from_fn(move || {
            while bits != 0 {
                let pin = bits.trailing_zeros();
                bits &= bits - 1;
                if let Some((safe, l)) = leased(self.slots[pin as usize]) {
                    return Some((pin, safe, l.deadline));
                }
            }
            None
        })
    }

    pub(crate) fn first_lease(&self) -> Option<(u32, Safe, Instant)> {
        self.leases().next()
    }

    /// The lowest pin whose lease `conn` wrote with release on disconnect:
    /// pin, safe state, deadline.
    pub(crate) fn first_bound_to(&self, conn: ConnId) -> Option<(u32, Safe, Instant)> {
        let mut bits = self.leased;
        while bits != 0 {
            let pin = bits.trailing_zeros();
            bits &= bits - 1;
            if let Some((safe, l)) = leased(self.slots[pin as usize]) {
                if l.release_on_disconnect && l.conn == conn {
                    return Some((pin, safe, l.deadline));
                }
            }
        }
        None
    }

    /// Give every running lease's owner a new index (`None`: nobody's),
    /// after the client list changed.
    pub(crate) fn remap_owners(&mut self, mut f: impl FnMut(u8) -> Option<u8>) {
        let mut bits = self.leased;
        while bits != 0 {
            let pin = bits.trailing_zeros();
            bits &= bits - 1;
            if let Slot::Output { lease: Some(l), .. } | Slot::Pwm { lease: Some(l), .. } =
                &mut self.slots[pin as usize]
            {
                l.owner = l.owner.and_then(&mut f);
            }
        }
    }

    /// Every other configured pin, ascending: pin and slot (the PWM
    /// slice check and the I2C pin release look at them).
    pub(crate) fn configured_pins(&self) -> impl Iterator<Item = (u32, Slot)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| **s != Slot::Free)
            .map(|(p, s)| (p as u32, *s))
    }

    pub(crate) fn configured(&self) -> usize {
        self.slots.iter().filter(|s| **s != Slot::Free).count()
    }

    pub(crate) fn clear(&mut self) {
        *self = Pins::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PWM: PwmState = PwmState {
        duty: 0.0,
        frequency: 1000,
    };

    proptest! {
        /// The kept deadline and lease set match a full scan of the slots
        /// after any sequence of changes.
        #[test]
        fn kept_state_matches_a_scan(
            ops in proptest::collection::vec((0u32..MAX_PINS as u32, 0u8..7, 0u64..8), 0..200),
        ) {
            let mut pins = Pins::new();
            for (pin, kind, t) in ops {
                let slot = match kind {
                    0 => Slot::Free,
                    1 => Slot::Input { pull: Pull::Up },
                    2 => Slot::Output { safe: Level::Low, lease: None },
                    3 => Slot::Output {
                        safe: Level::High,
                        lease: Some(Lease::until(Instant::from_nanos(t), ConnId(0))),
                    },
                    4 => Slot::Output {
                        safe: Level::Low,
                        lease: Some(Lease {
                            deadline: Instant::from_nanos(t),
                            conn: ConnId(t as u32 % 2),
                            release_on_disconnect: true,
                            owner: None,
                        }),
                    },
                    5 => Slot::Pwm {
                        safe: PWM,
                        state: PWM,
                        lease: None,
                    },
                    _ => Slot::Pwm {
                        safe: PWM,
                        state: PwmState { duty: 1.0, frequency: 50 },
                        lease: Some(Lease {
                            deadline: Instant::from_nanos(t),
                            conn: ConnId(t as u32 % 2),
                            release_on_disconnect: t % 3 == 0,
                            owner: None,
                        }),
                    },
                };
                pins.set(pin, slot);
                let scan: std::vec::Vec<(u32, Safe, Instant)> = pins
                    .slots
                    .iter()
                    .enumerate()
                    .filter_map(|(p, s)| match *s {
                        Slot::Output { safe, lease: Some(l) } => Some((p as u32, Safe::Level(safe), l.deadline)),
                        Slot::Pwm { safe, lease: Some(l), .. } => Some((p as u32, Safe::Pwm(safe), l.deadline)),
                        _ => None,
                    })
                    .collect();
                prop_assert_eq!(pins.leases().collect::<std::vec::Vec<_>>(), scan.clone());
                prop_assert_eq!(pins.next_deadline(), scan.iter().map(|l| l.2).min());
                for conn in [ConnId(0), ConnId(1)] {
                    let bound = pins.slots.iter().enumerate().find_map(|(p, s)| match *s {
                        Slot::Output { safe, lease: Some(l) }
                            if l.release_on_disconnect && l.conn == conn =>
                        {
                            Some((p as u32, Safe::Level(safe), l.deadline))
                        }
                        Slot::Pwm { safe, lease: Some(l), .. }
                            if l.release_on_disconnect && l.conn == conn =>
                        {
                            Some((p as u32, Safe::Pwm(safe), l.deadline))
                        }
                        _ => None,
                    });
                    prop_assert_eq!(pins.first_bound_to(conn), bound);
                }
            }
        }
    }
}
