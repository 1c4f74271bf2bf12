//! The firmware's edge path on the host: edges pushed as the GPIO
//! interrupt pushes them reach a watching connection as event lines,
//! between its replies, with the interrupt's time and the engine's seqs.

use std::cell::RefCell;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use embassy_futures::select::{select, select3, Either, Either3};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_time::{Duration, Timer};
use embedded_io_async::{ErrorType, Read, Write};
use futures_executor::block_on;
use piconet_app_core::conn::{serve, Closed, Limits};
use piconet_app_core::edges::{self, EdgeQueue, RawEdge};
use piconet_app_core::Shared;
use piconet_engine::{Config, Level, Origin};
use piconet_sim::SimBoard;

type Sh = Shared<CriticalSectionRawMutex, SimBoard>;
type Queue = EdgeQueue<CriticalSectionRawMutex, 8>;

/// A peer whose commands come from a channel and whose received bytes
/// the test reads back.
struct Peer<'a> {
    commands: &'a Channel<CriticalSectionRawMutex, &'static [u8], 4>,
    received: &'a RefCell<Vec<u8>>,
}

impl ErrorType for Peer<'_> {
    type Error = core::convert::Infallible;
}

impl Read for Peer<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let c = self.commands.receive().await;
        buf[..c.len()].copy_from_slice(c);
        Ok(c.len())
    }
}

impl Write for Peer<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.received.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

fn lines(received: &RefCell<Vec<u8>>) -> Vec<serde_json::Value> {
    String::from_utf8(received.borrow().clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Wait (simulated by the std time driver, bounded) until `n` lines came.
async fn until_lines(received: &RefCell<Vec<u8>>, n: usize) {
    let give_up = StdInstant::now() + StdDuration::from_secs(5);
    while lines(received).len() < n {
        assert!(
            StdInstant::now() < give_up,
            "only {:?} arrived",
            lines(received)
        );
        Timer::after(Duration::from_millis(1)).await;
    }
}

#[test]
fn interrupt_edges_become_event_lines_between_replies() {
    let sh: Sh = Shared::new(SimBoard::new(), Config::default());
    let queue = Queue::new();
    let commands = Channel::new();
    let received = RefCell::new(Vec::new());
    let mut peer = Peer {
        commands: &commands,
        received: &received,
    };
    let script = async {
        commands
            .send(b"{\"action\": \"setup_pin\", \"pin\": 3, \"mode\": \"input\"}\n")
            .await;
        commands
            .send(b"{\"action\": \"watch_pin\", \"pin\": 3, \"edge\": \"both\"}\n")
            .await;
        until_lines(&received, 2).await;
        // As the interrupt handler does: its own time, not the task's.
        for (level, t) in [(Level::High, 1_000), (Level::Low, 2_500)] {
            queue.push(RawEdge {
                pin: 3,
                level,
                time_us: t,
            });
        }
        until_lines(&received, 4).await;
        commands.send(b"{\"action\": \"ping\"}\n").await;
        until_lines(&received, 5).await;
        // An edge on a pin nobody watches reaches no one.
        queue.push(RawEdge {
            pin: 9,
            level: Level::High,
            time_us: 3_000,
        });
        queue.push(RawEdge {
            pin: 3,
            level: Level::High,
            time_us: 4_000,
        });
        until_lines(&received, 6).await;
        commands.send(b"\n").await;
        // The connection ends on that blank line; this side stays.
        core::future::pending::<()>().await;
    };
    let closed = block_on(async {
        match select3(
            serve::<_, _, _, 256, 1280, 64>(&sh, &mut peer, Origin::Network, Limits::default()),
            select(script, edges::run(&sh, &queue)),
            Timer::after(Duration::from_secs(10)),
        )
        .await
        {
            Either3::First(closed) => closed,
            Either3::Second(Either::First(())) => unreachable!("the script never ends"),
            Either3::Second(Either::Second(never)) => never,
            Either3::Third(()) => panic!("the connection did not end within 10 s"),
        }
    });
    assert_eq!(closed, Ok(Closed::End));
    let lines = lines(&received);
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert!(
        lines[..2].iter().all(|l| l.get("error").is_none()),
        "{lines:?}"
    );
    let edge = |l: &serde_json::Value| {
        assert_eq!(l["event"], "edge", "{l}");
        assert_eq!(l["pin"], 3, "{l}");
        (
            l["value"].as_u64().unwrap(),
            l["time_us"].as_u64().unwrap(),
            l["seq"].as_u64().unwrap(),
        )
    };
    assert_eq!(edge(&lines[2]), (1, 1_000, 1));
    assert_eq!(edge(&lines[3]), (0, 2_500, 2));
    assert_eq!(lines[4]["action"], "ping");
    assert_eq!(edge(&lines[5]), (1, 4_000, 3));
    assert_eq!(queue.lost(), 0);
}

#[test]
fn a_full_queue_counts_what_it_loses() {
    let queue = Queue::new();
    let edge = RawEdge {
        pin: 1,
        level: Level::High,
        time_us: 0,
    };
    for _ in 0..8 {
        assert!(queue.push(edge));
    }
    assert!(!queue.push(edge));
    assert!(!queue.push(edge));
    assert_eq!(queue.lost(), 2);
}

#[test]
fn a_command_that_makes_an_edge_wakes_the_watching_connection() {
    // sim_input on the simulated board: the edge comes from another
    // connection's command, not from the edge task.
    let sh: Sh = Shared::new(SimBoard::new(), Config::default());
    let (watch_in, drive_in) = (Channel::new(), Channel::new());
    let (watched, driven) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
    let mut watcher = Peer {
        commands: &watch_in,
        received: &watched,
    };
    let mut driver = Peer {
        commands: &drive_in,
        received: &driven,
    };
    let script = async {
        watch_in
            .send(b"{\"action\": \"setup_pin\", \"pin\": 4, \"mode\": \"input\"}\n")
            .await;
        watch_in
            .send(b"{\"action\": \"watch_pin\", \"pin\": 4}\n")
            .await;
        until_lines(&watched, 2).await;
        drive_in
            .send(b"{\"action\": \"sim_input\", \"pin\": 4, \"value\": 1}\n")
            .await;
        // The watcher sends nothing more: only the wake-up brings the line.
        until_lines(&watched, 3).await;
        watch_in.send(b"\n").await;
        drive_in.send(b"\n").await;
        core::future::pending::<()>().await;
    };
    let serve_both = async {
        let limits = Limits::default();
        embassy_futures::join::join(
            serve::<_, _, _, 256, 1280, 64>(&sh, &mut watcher, Origin::Network, limits),
            serve::<_, _, _, 256, 1280, 64>(&sh, &mut driver, Origin::Network, limits),
        )
        .await
    };
    let (a, b) = block_on(async {
        match select3(serve_both, script, Timer::after(Duration::from_secs(10))).await {
            Either3::First(both) => both,
            Either3::Second(()) => unreachable!("the script never ends"),
            Either3::Third(()) => panic!("the connections did not end within 10 s"),
        }
    });
    assert_eq!((a, b), (Ok(Closed::End), Ok(Closed::End)));
    let lines = lines(&watched);
    assert_eq!(lines[2]["event"], "edge", "{lines:?}");
    assert_eq!(lines[2]["seq"], 1);
    assert_eq!(lines[2]["value"], 1);
}
