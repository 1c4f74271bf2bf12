//! How a connection's event lines reach its socket.
//!
//! The engine queues event lines for a watching connection; normally its
//! own task is woken to move them into its session's output and write
//! them. A plaintext TCP connection whose task is parked with nothing to
//! write also takes the faster way: the thread that detected the edge (the
//! `sim_input` connection's task, a GPIO edge reader) writes the lines to
//! its socket itself, at once, without a second task's turn (BENCHMARKS.md,
//! issue 15). Whatever that write does not take stays here, in order, for
//! the connection's task, which then writes it before anything else. The
//! socket is duplicated when the first event line comes, so a connection
//! that watches nothing holds one descriptor, not two.
//!
//! Lock order: the engine, then the lanes' map, then one lane. A
//! connection's task never takes the engine while it holds its lane.

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};

use piconet_engine::{ConnId, Instant};
use tokio::sync::Notify;

use crate::server::SharedEngine;

/// One connection's way to its event lines.
pub(crate) struct EventLane {
    /// Wakes the connection's task: event lines wait in the engine, or
    /// here when the direct write could not take them all.
    pub(crate) notify: Notify,
    direct: Mutex<Direct>,
}

/// A stream whose socket another thread may write event lines to.
pub(crate) trait DirectSocket {
    /// A duplicate of the socket: None for TLS (only the connection's
    /// task can write its records), or when no descriptor is left.
    fn duplicate(&self) -> Option<TcpStream>;
}

struct Direct {
    /// A duplicate of the connection's socket, made when the first event
    /// line came (so connections that watch nothing hold one descriptor,
    /// not two) and dropped when the connection ends (before its own
    /// socket is closed).
    socket: Option<TcpStream>,
    /// A duplicate was asked for (once), or the connection ended: never
    /// ask (again).
    asked: bool,
    /// The task waits for input with nothing to write: its socket is free
    /// for another thread's write of whole event lines.
    parked: bool,
    /// Event lines taken from the engine and not yet written, oldest
    /// first; they go out before anything else on the connection.
    rest: Vec<u8>,
    /// The last time event lines went out the direct way.
    delivered_at: Option<Instant>,
}

/// What went on while the task was parked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unparked {
    /// Event lines the task must write first.
    pub(crate) rest: Vec<u8>,
    /// When lines last went out the direct way (events flowing keep a
    /// connection from its idle timeout).
    pub(crate) delivered_at: Option<Instant>,
}

/// How [`EventLane::write_taken`] went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Every line went out: the task need not wake.
    Written,
    /// The task must run: it is busy (it writes them itself), or the
    /// socket did not take them all.
    WakeTask,
}

impl EventLane {
    /// A lane for a connection: its task is woken for every event line
    /// until [`EventLane::arm`] gives it a socket.
    pub(crate) fn new() -> Self {
        EventLane {
            notify: Notify::new(),
            direct: Mutex::new(Direct {
                socket: None,
                asked: false,
                parked: false,
                rest: Vec::new(),
                delivered_at: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Direct> {
        // A panic while holding it leaves at worst a flag: carry on.
        self.direct.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The task was woken for event lines: the first time, take a
    /// duplicate of `stream`'s socket for the direct way, if it has one.
    /// Only the connection's own task calls this and [`EventLane::close`],
    /// so the two never overlap.
    pub(crate) fn arm(&self, stream: &impl DirectSocket) {
        let mut d = self.lock();
        if !d.asked {
            d.asked = true;
            d.socket = stream.duplicate();
        }
    }

    /// The task is about to wait for input with nothing to write: other
    /// threads may now write its event lines themselves.
    pub(crate) fn park(&self) {
        let mut d = self.lock();
        d.parked = d.socket.is_some() && d.rest.is_empty();
    }

    /// The task runs again: from now on it writes its own lines. Returns
    /// what it must write first and when lines last went out, if lines
    /// went the direct way meanwhile (the common case, a connection that
    /// watches nothing, costs the task no clock reading).
    pub(crate) fn unpark(&self) -> Option<Unparked> {
        let mut d = self.lock();
        d.parked = false;
        if d.rest.is_empty() && d.delivered_at.is_none() {
            return None;
        }
        Some(Unparked {
            rest: std::mem::take(&mut d.rest),
            delivered_at: d.delivered_at.take(),
        })
    }

    /// Called with the engine locked, for a connection the engine woke:
    /// if the task is parked, take `conn`'s event lines from the engine
    /// into this lane (the engine lock is then released before
    /// [`EventLane::write_taken`] does the system call). True when lines
    /// were taken.
    pub(crate) fn take(&self, engine: &mut SharedEngine, conn: ConnId) -> bool {
        let mut d = self.lock();
        if !d.parked {
            return false;
        }
        let before = d.rest.len();
        // A Vec never runs out of room; the engine's queue is bounded.
        while let Ok(true) = engine.write_event(conn, &mut d.rest) {}
        d.rest.len() > before
    }

    /// Write the lines [`EventLane::take`] took, if the task is still
    /// parked (it takes them itself when it unparked first).
    pub(crate) fn write_taken(&self, now: Instant) -> Delivery {
        let mut d = self.lock();
        let d = &mut *d;
        if !d.parked {
            return Delivery::WakeTask;
        }
        if d.rest.is_empty() {
            return Delivery::Written;
        }
        let Some(socket) = d.socket.as_ref() else {
            return Delivery::WakeTask;
        };
        // The socket is non-blocking (the runtime made it so, and a
        // duplicate shares that): a full one takes nothing, at once.
        match (&*socket).write(&d.rest) {
            Ok(n) if n == d.rest.len() => {
                d.rest.clear();
                d.delivered_at = Some(now);
                Delivery::Written
            }
            Ok(n) => {
                d.rest.drain(..n);
                if n > 0 {
                    d.delivered_at = Some(now);
                }
                d.parked = false;
                Delivery::WakeTask
            }
            // Full, or failing: the task's own write meets the same
            // (its write timeout, or the error) and ends the connection.
            Err(_) => {
                d.parked = false;
                Delivery::WakeTask
            }
        }
    }

    /// The connection ended: no other thread writes to its socket again.
    pub(crate) fn close(&self) {
        let mut d = self.lock();
        d.asked = true;
        d.parked = false;
        d.socket = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (server, client)
    }

    struct Dup(Option<TcpStream>);

    impl DirectSocket for Dup {
        fn duplicate(&self) -> Option<TcpStream> {
            self.0.as_ref().map(|s| s.try_clone().unwrap())
        }
    }

    fn armed(server: TcpStream) -> EventLane {
        let lane = EventLane::new();
        lane.arm(&Dup(Some(server)));
        lane
    }

    fn lane_with(rest: &[u8]) -> (EventLane, TcpStream) {
        let (server, client) = pair();
        let lane = armed(server);
        lane.park();
        lane.lock().rest.extend_from_slice(rest);
        (lane, client)
    }

    #[test]
    fn a_parked_task_lets_the_lines_go_out_directly() {
        let (lane, mut client) = lane_with(b"{\"event\": \"edge\"}\n");
        let now = Instant::from_micros(7);
        assert_eq!(lane.write_taken(now), Delivery::Written);
        let mut got = [0u8; 18];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"{\"event\": \"edge\"}\n");
        // Still parked: the next lines go the same way.
        assert_eq!(
            lane.unpark(),
            Some(Unparked {
                rest: Vec::new(),
                delivered_at: Some(now)
            })
        );
        assert_eq!(lane.unpark(), None, "nothing new since");
    }

    #[test]
    fn a_running_task_gets_the_lines_and_the_socket_is_left_alone() {
        let (lane, mut client) = lane_with(b"line\n");
        let taken = lane.unpark().unwrap();
        assert_eq!(taken.rest, b"line\n");
        assert_eq!(taken.delivered_at, None);
        assert_eq!(
            lane.write_taken(Instant::from_micros(1)),
            Delivery::WakeTask
        );
        client.set_nonblocking(true).unwrap();
        let mut got = [0u8; 8];
        assert!(client.read(&mut got).is_err(), "nothing was written");
    }

    #[test]
    fn what_a_full_socket_does_not_take_stays_for_the_task_in_order() {
        let (server, _client) = pair();
        // Fill the socket until it takes nothing more.
        let chunk = vec![b'x'; 64 * 1024];
        while (&server).write(&chunk).is_ok() {}
        let lane = armed(server);
        lane.park();
        lane.lock().rest.extend_from_slice(b"a\nb\n");
        assert_eq!(
            lane.write_taken(Instant::from_micros(1)),
            Delivery::WakeTask
        );
        // Unparked by the failed write: later lines queue behind these.
        lane.park();
        let rest = lane.unpark().unwrap().rest;
        assert_eq!(rest, b"a\nb\n");
    }

    #[test]
    fn without_a_socket_or_once_closed_the_task_is_woken() {
        // Not armed yet, then armed by a stream without a socket (TLS).
        let lane = EventLane::new();
        lane.park();
        assert_eq!(
            lane.write_taken(Instant::from_micros(1)),
            Delivery::WakeTask
        );
        lane.arm(&Dup(None));
        lane.park();
        assert!(!lane.lock().parked);
        // A closed lane drops its socket and is never armed again.
        let (lane, _client) = lane_with(b"x\n");
        lane.close();
        assert_eq!(
            lane.write_taken(Instant::from_micros(1)),
            Delivery::WakeTask
        );
        lane.park();
        assert!(!lane.lock().parked, "a closed lane never parks");
        let (server, _client2) = pair();
        lane.arm(&Dup(Some(server)));
        assert!(lane.lock().socket.is_none());
    }
}
