//! The cost of one command through decode → engine → encode, for
//! `bench/callgrind.sh`.
//!
//! ```text
//! command_cost <minimal|sim> <read_pin|write_pin> <iterations> [warm-up]
//! ```
//!
//! Sets up pin 2 as an output, warms up (outside the measured function),
//! then calls [`piconet_measured_command`] `iterations` times. Each call
//! takes one chunk holding one command line with its `"\n"`, exactly as
//! the original Python client sends it, runs it through a [`LineDecoder`]
//! over `heapless::Vec` storage and [`Engine::handle`], and leaves the
//! response in a `heapless::Vec`. Run under
//! `valgrind --tool=callgrind --toggle-collect='*piconet_measured_command*'`
//! only that function (and what it calls) is counted: divide by
//! `iterations` for the instructions per command.
//!
//! `write_pin` alternates 1 and 0 on a pin whose safe level is 0, so every
//! other command starts a lease and the next one ends it.
//!
//! Boards: `minimal` stores levels in an array and nothing else (the path
//! as the firmware sees it, allocation-free); `sim` is the [`SimBoard`]
//! the host daemon uses by default, whose event log is filled to its
//! capacity during the warm-up so that, as in a long-running daemon, it
//! no longer grows (each level change then drops the oldest event).

use std::hint::black_box;
use std::process::ExitCode;

use piconet_engine::{Board, Config, Engine, Instant};
use piconet_protocol::framing::{Frame, LineDecoder, LineStorage};
use piconet_sim::levels::LevelsBoard;
use piconet_sim::SimBoard;

/// Longest accepted command line.
const MAX_LINE: usize = 1024;
/// Line storage: the limit plus one byte for a '\r'.
type Storage = heapless::Vec<u8, { MAX_LINE + 1 }>;
/// Response buffer: a line plus the engine's overhead.
type Out = heapless::Vec<u8, { MAX_LINE + piconet_engine::RESPONSE_OVERHEAD }>;

/// Warm-up commands before measuring, by default: enough level changes to
/// fill the SimBoard's event log (10,000 events) so it stops growing.
const WARM_UP: u32 = 10_100;

const SETUP: &[u8] =
    b"{\"action\": \"setup_pin\", \"pin\": 2, \"mode\": \"output\", \"value\": 0, \"time_sent\": 1732451000000000000}\n";
const READ: &[u8] = b"{\"action\": \"read_pin\", \"pin\": 2, \"time_sent\": 1732451000000100000}\n";
const WRITE_1: &[u8] = b"{\"action\": \"write_pin\", \"pin\": 2, \"value\": 1, \"timeout\": 5, \"time_sent\": 1732451000000200000}\n";
const WRITE_0: &[u8] = b"{\"action\": \"write_pin\", \"pin\": 2, \"value\": 0, \"timeout\": 5, \"time_sent\": 1732451000000300000}\n";

/// One chunk from the network: frame it, answer every command line in it.
/// Returns how many lines were answered.
#[inline(always)]
fn command<B: Board, S: LineStorage>(
    engine: &mut Engine<B>,
    decoder: &mut LineDecoder<S>,
    now: Instant,
    chunk: &[u8],
    out: &mut Out,
) -> usize {
    let max = decoder.max_len();
    let mut input = chunk;
    let mut answered = 0;
    while let Some(frame) = decoder.decode(&mut input) {
        match frame {
            Frame::Line(line) => {
                engine.handle(now, line, out);
                answered += 1;
            }
            Frame::TooLong => engine.handle_too_long(max, out),
            Frame::End => {}
        }
    }
    answered
}

/// The measured path. Only this function is counted by callgrind.
#[inline(never)]
fn piconet_measured_command<B: Board, S: LineStorage>(
    engine: &mut Engine<B>,
    decoder: &mut LineDecoder<S>,
    now: Instant,
    chunk: &[u8],
    out: &mut Out,
) -> usize {
    command(engine, decoder, now, chunk, out)
}

/// The same path, not counted: warm-up and setup.
#[inline(never)]
fn piconet_unmeasured_command<B: Board, S: LineStorage>(
    engine: &mut Engine<B>,
    decoder: &mut LineDecoder<S>,
    now: Instant,
    chunk: &[u8],
    out: &mut Out,
) -> usize {
    command(engine, decoder, now, chunk, out)
}

#[derive(Clone, Copy, PartialEq)]
enum Action {
    Read,
    Write,
}

impl Action {
    fn chunk(self, i: u32) -> &'static [u8] {
        match self {
            Action::Read => READ,
            Action::Write if i % 2 == 0 => WRITE_1,
            Action::Write => WRITE_0,
        }
    }
}

fn run<B: Board>(board: B, action: Action, iterations: u32, warm_up: u32) -> Result<(), String> {
    let mut engine = Engine::new(board, Config::default());
    let mut decoder = LineDecoder::new(Storage::new(), MAX_LINE);
    let mut out = Out::new();
    // 1 µs between commands: leases (5 s) never expire during the run.
    let mut now = Instant::from_millis(1);
    let tick = core::time::Duration::from_micros(1);

    piconet_unmeasured_command(&mut engine, &mut decoder, now, SETUP, &mut out);
    check(&out, action, None)?;
    for i in 0..warm_up {
        out.clear();
        now = now + tick;
        let n = piconet_unmeasured_command(
            &mut engine,
            &mut decoder,
            now,
            black_box(action.chunk(i)),
            &mut out,
        );
        assert_eq!(n, 1);
    }
    if warm_up > 0 {
        check(&out, action, Some(warm_up - 1))?;
    }

    for i in 0..iterations {
        out.clear();
        now = now + tick;
        let n = piconet_measured_command(
            black_box(&mut engine),
            black_box(&mut decoder),
            black_box(now),
            black_box(action.chunk(i)),
            black_box(&mut out),
        );
        assert_eq!(n, 1);
    }
    if iterations > 0 {
        check(&out, action, Some(iterations - 1))?;
    }
    println!("{}", String::from_utf8_lossy(&out).trim_end());
    Ok(())
}

/// The response is the right one, not an error.
fn check(out: &[u8], action: Action, last: Option<u32>) -> Result<(), String> {
    let text = String::from_utf8_lossy(out);
    let ok = !text.contains("\"error\"")
        && text.ends_with("}\n")
        && match (action, last) {
            (_, None) => text.contains("setup_pin"),
            (Action::Read, Some(_)) => text.ends_with(", \"value\": 0}\n"),
            (Action::Write, Some(i)) => {
                text.contains("write_pin")
                    && text.contains(if i % 2 == 0 {
                        "\"value\": 1"
                    } else {
                        "\"value\": 0"
                    })
            }
        };
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected response: {text}"))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: command_cost <minimal|sim> <read_pin|write_pin> <iterations> [warm-up]";
    let (board, action, iterations, warm_up) = match args.as_slice() {
        [b, a, n] => (b, a, n, None),
        [b, a, n, w] => (b, a, n, Some(w)),
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let Ok(warm_up) = warm_up.map_or(Ok(WARM_UP), |w| w.parse::<u32>()) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let action = match action.as_str() {
        "read_pin" => Action::Read,
        "write_pin" => Action::Write,
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let result = match board.as_str() {
        "minimal" => run(LevelsBoard::new(), action, iterations, warm_up),
        "sim" => run(SimBoard::new(), action, iterations, warm_up),
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
