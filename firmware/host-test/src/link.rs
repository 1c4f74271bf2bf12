//! An in-memory Ethernet cable: two embassy-net drivers whose frames land
//! in each other's receive queue. Single-threaded (one executor polls both
//! stacks), so the queues are `Rc<RefCell<_>>`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::{Context, Waker};

use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState, RxToken, TxToken};

/// Largest Ethernet frame (1500 B payload + 14 B header), as the CYW43 driver.
pub const MTU: usize = 1514;

#[derive(Default)]
struct Queue {
    frames: VecDeque<Vec<u8>>,
    /// The receiving side's waker, woken when a frame arrives.
    waker: Option<Waker>,
}

/// One end of the cable.
pub struct End {
    rx: Rc<RefCell<Queue>>,
    tx: Rc<RefCell<Queue>>,
    mac: [u8; 6],
}

/// A cable: `(a, b)`, where what `a` sends `b` receives and vice versa.
pub fn cable() -> (End, End) {
    let ab = Rc::new(RefCell::new(Queue::default()));
    let ba = Rc::new(RefCell::new(Queue::default()));
    (
        End {
            rx: ba.clone(),
            tx: ab.clone(),
            mac: [0x02, 0, 0, 0, 0, 1],
        },
        End {
            rx: ab,
            tx: ba,
            mac: [0x02, 0, 0, 0, 0, 2],
        },
    )
}

/// A received frame.
pub struct Rx(Vec<u8>);

/// Room for one frame towards the peer.
pub struct Tx(Rc<RefCell<Queue>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.0)
    }
}

impl TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        let mut q = self.0.borrow_mut();
        q.frames.push_back(frame);
        if let Some(w) = q.waker.take() {
            w.wake();
        }
        r
    }
}

impl Driver for End {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;

    fn receive(&mut self, cx: &mut Context) -> Option<(Rx, Tx)> {
        let mut q = self.rx.borrow_mut();
        match q.frames.pop_front() {
            Some(f) => Some((Rx(f), Tx(self.tx.clone()))),
            None => {
                q.waker = Some(cx.waker().clone());
                None
            }
        }
    }

    fn transmit(&mut self, _cx: &mut Context) -> Option<Tx> {
        Some(Tx(self.tx.clone()))
    }

    fn link_state(&mut self, _cx: &mut Context) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.max_transmission_unit = MTU;
        c
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}
