//! The firmware's connection slots: the engine's policy behind the
//! listeners' gate (per-address limit, eviction of the longest idle, the
//! evicted listener woken, stale wake-ups ignored).

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use piconet_app_core::gate::{limits, Gate};
use piconet_engine::slots::Refusal;
use piconet_engine::Instant;

type G = Gate<CriticalSectionRawMutex, u8, 3, 4>;

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Whether `f` is complete at its first poll.
fn ready(f: impl Future<Output = ()>) -> bool {
    let mut f = pin!(f);
    matches!(
        f.as_mut().poll(&mut Context::from_waker(Waker::noop())),
        Poll::Ready(())
    )
}

#[test]
fn one_address_holds_at_most_its_share_and_others_are_served() {
    let g = G::new(limits::SLOT_LIMITS);
    let _a = g.admit(0, t(0), 1).unwrap();
    let _b = g.admit(1, t(0), 1).unwrap();
    assert_eq!(g.admit(2, t(10), 1).err(), Some(Refusal::AddressFull));
    let c = g
        .admit(2, t(10), 2)
        .expect("another address gets the last slot");
    assert!(!c.evicted_another());
    assert_eq!(g.len(), 3);
    // All three fresh: a fourth peer is refused, not served by eviction.
    assert_eq!(g.admit(3, t(20), 3).err(), Some(Refusal::Full));
}

#[test]
fn the_longest_idle_makes_way_and_its_listener_is_woken() {
    let g = G::new(limits::SLOT_LIMITS);
    let a = g.admit(0, t(0), 1).unwrap();
    let b = g.admit(1, t(0), 2).unwrap();
    let c = g.admit(2, t(0), 3).unwrap();
    b.touch(t(900));
    c.touch(t(900));
    assert!(!ready(a.evicted()));
    let d = g.admit(3, t(1000), 4).expect("a has been idle for 1 s");
    assert!(d.evicted_another());
    assert_eq!(d.slot(), a.slot(), "the newcomer serves in a's buffers");
    assert!(!a.holds() && b.holds() && d.holds());
    assert!(ready(a.evicted()));
    assert!(!ready(b.evicted()));
    // Dropping the evicted ticket frees nothing: the slot is d's.
    drop(a);
    assert_eq!(g.len(), 3);
    assert!(d.holds());
}

#[test]
fn an_address_over_its_share_recycles_its_own_idle_one() {
    let g = G::new(limits::SLOT_LIMITS);
    let a = g.admit(0, t(0), 1).unwrap();
    let b = g.admit(1, t(0), 1).unwrap();
    b.touch(t(800));
    let c = g.admit(2, t(1100), 1).expect("a idle since 0");
    assert!(c.evicted_another() && !a.holds() && b.holds());
    assert!(ready(a.evicted()));
    assert_eq!(g.len(), 2, "the third slot stays free for other addresses");
}

#[test]
fn a_wake_up_left_from_an_old_connection_does_not_end_the_next() {
    let g = G::new(limits::SLOT_LIMITS);
    let a = g.admit(0, t(0), 1).unwrap();
    let _b = g.admit(1, t(0), 2).unwrap();
    let _c = g.admit(2, t(0), 3).unwrap();
    let _d = g.admit(3, t(2000), 4).unwrap();
    assert!(!a.holds());
    drop(a);
    // Listener 0 ends (its wake-up not awaited) and accepts again; the
    // table is full of fresh connections, so it waits for a free slot...
    drop(_b);
    let again = g.admit(0, t(2000), 5).unwrap();
    // ...and the new connection is not taken for evicted.
    assert!(!ready(again.evicted()));
    assert!(again.holds());
}

#[test]
fn released_slots_are_free_again() {
    let g = G::new(limits::SLOT_LIMITS);
    let tickets: Vec<_> = (0..3).map(|i| g.admit(i, t(0), i as u8).unwrap()).collect();
    assert_eq!(g.len(), 3);
    drop(tickets);
    assert!(g.is_empty());
    assert!(g.admit(0, t(1), 9).is_ok());
}
