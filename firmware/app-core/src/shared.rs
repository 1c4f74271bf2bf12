//! State shared by the connection tasks, the lease timer and the LED task.

use core::cell::Cell;

use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::blocking_mutex::Mutex as BlockingMutex;
use embassy_sync::mutex::Mutex;
use embassy_sync::signal::Signal;
use piconet_engine::led::Status;
use piconet_engine::{Board, Config, ConnId, Engine};

#[derive(Clone, Copy)]
struct State {
    link_up: bool,
    clients: u32,
    asleep: bool,
    /// The id the next connection gets (release_on_disconnect leases are
    /// bound to it).
    next_conn: u32,
    /// The connection each of [`Shared::events`]' signals wakes.
    event_conns: [Option<ConnId>; EVENT_WAKERS],
}

/// Connections that can wait for event lines at the same time: at least
/// the firmware's connections (the USB port and the listener's sockets),
/// so every connection gets one.
pub const EVENT_WAKERS: usize = 4;

/// The one engine of the board behind an async mutex, plus the signals
/// that wake the lease timer and the LED task.
///
/// The engine lock is only ever held across synchronous engine calls,
/// never across socket I/O, so one slow client cannot stall the others.
pub struct Shared<M: RawMutex, B> {
    /// The engine. Lock it only for one engine call at a time (one line,
    /// one poll), never across socket I/O.
    pub engine: Mutex<M, Engine<B>>,
    /// Signalled after every command: a lease may have started or ended,
    /// so the lease timer re-reads the next deadline.
    pub leases_changed: Signal<M, ()>,
    /// Signalled when the LED status (link, clients, sleep) changed.
    pub status_changed: Signal<M, ()>,
    /// Signalled when a command arrives (ends a light sleep early).
    pub activity: Signal<M, ()>,
    /// One wake-up per connection that may get event lines: the edge task
    /// signals it after the engine queued lines for that connection.
    events: [Signal<M, ()>; EVENT_WAKERS],
    state: BlockingMutex<M, Cell<State>>,
}

impl<M: RawMutex, B: Board> Shared<M, B> {
    /// Shared state around a new engine; the link starts down.
    pub fn new(board: B, config: Config) -> Self {
        Shared {
            engine: Mutex::new(Engine::new(board, config)),
            leases_changed: Signal::new(),
            status_changed: Signal::new(),
            activity: Signal::new(),
            events: [const { Signal::new() }; EVENT_WAKERS],
            state: BlockingMutex::new(Cell::new(State {
                link_up: false,
                clients: 0,
                asleep: false,
                next_conn: 0,
                event_conns: [None; EVENT_WAKERS],
            })),
        }
    }
}

impl<M: RawMutex, B> Shared<M, B> {
    fn update(&self, f: impl FnOnce(&mut State)) {
        self.state.lock(|c| {
            let mut s = c.get();
            f(&mut s);
            c.set(s);
        });
        self.status_changed.signal(());
    }

    /// The network link (WiFi joined and an address held) came up or went down.
    pub fn set_link_up(&self, up: bool) {
        self.update(|s| s.link_up = up);
    }

    /// The board is sleeping (LED dark) or awake again.
    pub fn set_asleep(&self, asleep: bool) {
        self.update(|s| s.asleep = asleep);
    }

    /// A connection id not used before (wraps after 2^32 connections, long
    /// after any lease of the first one ended).
    pub fn next_conn(&self) -> ConnId {
        self.state.lock(|c| {
            let mut s = c.get();
            let id = s.next_conn;
            s.next_conn = id.wrapping_add(1);
            c.set(s);
            ConnId(id)
        })
    }

    /// Give `conn` one of the event wake-ups for as long as the guard
    /// lives; `None` when all [`EVENT_WAKERS`] are taken.
    pub fn event_waker(&self, conn: ConnId) -> Option<EventWaker<'_, M, B>> {
        let slot = self.state.lock(|c| {
            let mut s = c.get();
            let slot = s.event_conns.iter().position(Option::is_none)?;
            s.event_conns[slot] = Some(conn);
            c.set(s);
            Some(slot)
        })?;
        // A signal left from the slot's previous connection means nothing.
        self.events[slot].reset();
        Some(EventWaker { shared: self, slot })
    }

    /// The engine queued event lines for `conn`: wake its connection.
    pub fn wake_events(&self, conn: ConnId) {
        let slot = self
            .state
            .lock(|c| c.get().event_conns.iter().position(|&x| x == Some(conn)));
        if let Some(slot) = slot {
            self.events[slot].signal(());
        }
    }

    /// Connected clients now.
    pub fn clients(&self) -> u32 {
        self.state.lock(|c| c.get().clients)
    }

    /// Count a client for as long as the guard lives (LED: client pattern).
    pub fn client(&self) -> ClientGuard<'_, M, B> {
        self.update(|s| s.clients += 1);
        ClientGuard { shared: self }
    }

    /// What the status LED shows now.
    pub fn status(&self) -> Status {
        let s = self.state.lock(|c| c.get());
        if s.asleep {
            Status::Off
        } else if !s.link_up {
            Status::Connecting
        } else if s.clients > 0 {
            Status::Client
        } else {
            Status::Idle
        }
    }
}

/// Counts one connected client until dropped.
pub struct ClientGuard<'a, M: RawMutex, B> {
    shared: &'a Shared<M, B>,
}

impl<M: RawMutex, B> Drop for ClientGuard<'_, M, B> {
    fn drop(&mut self) {
        self.shared
            .update(|s| s.clients = s.clients.saturating_sub(1));
    }
}

/// One connection's event wake-up, given back when dropped.
pub struct EventWaker<'a, M: RawMutex, B> {
    shared: &'a Shared<M, B>,
    slot: usize,
}

impl<M: RawMutex, B> EventWaker<'_, M, B> {
    /// Wait until the engine queued event lines for this connection (a
    /// wake-up that came while nobody waited is kept).
    pub async fn wait(&self) {
        self.shared.events[self.slot].wait().await
    }
}

impl<M: RawMutex, B> Drop for EventWaker<'_, M, B> {
    fn drop(&mut self) {
        let slot = self.slot;
        self.shared.state.lock(|c| {
            let mut s = c.get();
            s.event_conns[slot] = None;
            c.set(s);
        });
    }
}
