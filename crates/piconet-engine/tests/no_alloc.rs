//! The command path (decode → engine → encode) never touches the heap.
//!
//! A counting global allocator counts the allocations made on this test's
//! thread while a region is armed; setup happens outside the region. The
//! buffers are `heapless::Vec` and `SliceSink`, the board keeps its levels
//! in an array, so any allocation counted comes from the protocol or the
//! engine.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use piconet_engine::{Board, Config, Engine, Instant};
use piconet_protocol::framing::{Frame, LineDecoder, LineStorage};
use piconet_protocol::sink::{Sink, SliceSink};
use piconet_sim::levels::LevelsBoard;
use piconet_sim::SimBoard;

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are torn down.
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn allocations<R>(f: impl FnOnce() -> R) -> (usize, R) {
    COUNT.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (COUNT.with(Cell::get), r)
}

fn array_board() -> LevelsBoard {
    LevelsBoard::new()
}

const MAX_LINE: usize = 256;

/// Feed `chunk` through the decoder and the engine, as a transport does.
fn serve<B: Board, S: LineStorage>(
    engine: &mut Engine<B>,
    decoder: &mut LineDecoder<S>,
    now: Instant,
    chunk: &[u8],
    out: &mut impl Sink,
) -> usize {
    let max = decoder.max_len();
    let mut input = chunk;
    let mut frames = 0;
    while let Some(frame) = decoder.decode(&mut input) {
        frames += 1;
        match frame {
            Frame::Line(line) => {
                engine.handle(now, line, out);
            }
            Frame::TooLong => engine.handle_too_long(max, out),
            Frame::End => {}
        }
    }
    frames
}

const SETUP: &[u8] = b"{\"action\": \"setup_pin\", \"pin\": 2, \"mode\": \"output\", \"value\": 0, \"time_sent\": 1732451000000000000}\n";
const READ: &[u8] = b"{\"action\": \"read_pin\", \"pin\": 2, \"time_sent\": 1732451000000100000}\n";
const WRITE_1: &[u8] = b"{\"action\": \"write_pin\", \"pin\": 2, \"value\": 1, \"timeout\": 5, \"time_sent\": 1732451000000200000}\n";
const WRITE_0: &[u8] = b"{\"action\": \"write_pin\", \"pin\": 2, \"value\": 0, \"timeout\": 5, \"time_sent\": 1732451000000300000}\n";
const NOT_SET_UP: &[u8] = b"{\"action\": \"read_pin\", \"pin\": 3, \"time_sent\": 1}\n";
const BAD_JSON: &[u8] = b"{\"action\": \"read_pin\", \"pin\": }\n";
const UNKNOWN: &[u8] = b"{\"action\": \"fly\", \"pin\": 2}\n";

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

#[test]
fn the_counter_sees_an_allocation() {
    // The test below can fail: an allocation in an armed region counts.
    let (n, b) = allocations(|| Box::new(std::hint::black_box(7u64)));
    assert_eq!(*b, 7);
    assert_eq!(n, 1);
}

#[test]
fn read_write_errors_and_expiry_do_not_allocate() {
    let mut engine = Engine::new(array_board(), Config::default());
    let mut decoder = LineDecoder::new(heapless::Vec::<u8, { MAX_LINE + 1 }>::new(), MAX_LINE);
    let mut out: heapless::Vec<u8, 2048> = heapless::Vec::new();
    let t0 = Instant::from_millis(1);
    serve(&mut engine, &mut decoder, t0, SETUP, &mut out);
    assert!(!text(&out).contains("error"), "{}", text(&out));

    // read_pin
    out.clear();
    let (n, frames) = allocations(|| serve(&mut engine, &mut decoder, t0, READ, &mut out));
    assert_eq!(frames, 1);
    assert_eq!(n, 0, "read_pin allocated");
    assert!(text(&out).ends_with("\"value\": 0}\n"), "{}", text(&out));

    // write_pin 1 starts a lease, write_pin 0 (the safe level) ends it,
    // write_pin 1 starts it again.
    for (chunk, leases) in [(WRITE_1, 1), (WRITE_0, 0), (WRITE_1, 1)] {
        out.clear();
        let (n, _) = allocations(|| serve(&mut engine, &mut decoder, t0, chunk, &mut out));
        assert_eq!(n, 0, "write_pin allocated: {}", text(chunk));
        assert!(!text(&out).contains("error"), "{}", text(&out));
        assert_eq!(engine.leases(), leases);
    }

    // Errors: pin not set up, invalid JSON, unknown action, an over-long
    // line, into a SliceSink this time.
    let mut buf = [0u8; 2048];
    let long = [b'x'; MAX_LINE + 10];
    for chunk in [NOT_SET_UP, BAD_JSON, UNKNOWN, &long[..]] {
        let mut sink = SliceSink::new(&mut buf);
        let (n, _) = allocations(|| serve(&mut engine, &mut decoder, t0, chunk, &mut sink));
        assert_eq!(n, 0, "error path allocated: {}", text(chunk));
        assert!(
            text(sink.as_bytes()).contains("\"exception\""),
            "{}",
            text(sink.as_bytes())
        );
    }

    // The newline ending the over-long line, then the empty line that
    // ends a session.
    let mut sink = SliceSink::new(&mut buf);
    let (n, frames) = allocations(|| {
        serve(&mut engine, &mut decoder, t0, b"\n", &mut sink)
            + serve(&mut engine, &mut decoder, t0, b"\n", &mut sink)
    });
    assert_eq!((n, frames), (0, 1));
    assert!(sink.is_empty());

    // Several commands in one chunk and one command across two chunks.
    let mut both = heapless::Vec::<u8, 256>::new();
    both.extend_from_slice(READ).unwrap();
    both.extend_from_slice(READ).unwrap();
    out.clear();
    let (n, frames) = allocations(|| {
        serve(&mut engine, &mut decoder, t0, &both, &mut out)
            + serve(&mut engine, &mut decoder, t0, &READ[..10], &mut out)
            + serve(&mut engine, &mut decoder, t0, &READ[10..], &mut out)
    });
    assert_eq!(n, 0, "split or merged lines allocated");
    assert_eq!(frames, 3);

    // The lease expires: poll reverts the pin, and the next command sees it.
    assert_eq!(engine.leases(), 1);
    let deadline = engine.next_deadline().unwrap();
    assert_eq!(deadline, t0 + Duration::from_secs(5));
    let (n, reverted) = allocations(|| engine.poll(deadline));
    assert_eq!(n, 0, "poll allocated");
    assert_eq!(reverted, 1);
    assert_eq!(engine.leases(), 0);
    out.clear();
    let (n, _) = allocations(|| serve(&mut engine, &mut decoder, deadline, READ, &mut out));
    assert_eq!(n, 0);
    assert!(text(&out).ends_with("\"value\": 0}\n"), "{}", text(&out));

    // An expiry found by handle itself (no poll in between).
    serve(&mut engine, &mut decoder, deadline, WRITE_1, &mut out);
    let later = deadline + Duration::from_secs(5);
    out.clear();
    let (n, _) = allocations(|| serve(&mut engine, &mut decoder, later, READ, &mut out));
    assert_eq!(n, 0, "expiry inside handle allocated");
    assert_eq!(engine.leases(), 0);
    assert!(text(&out).ends_with("\"value\": 0}\n"), "{}", text(&out));
}

#[test]
fn simboard_does_not_allocate_once_its_log_is_full() {
    // The SimBoard logs level changes into a bounded VecDeque: it allocates
    // while the log grows, never once it holds its capacity.
    let mut engine = Engine::new(SimBoard::new().with_log_capacity(4), Config::default());
    let mut decoder = LineDecoder::new(heapless::Vec::<u8, { MAX_LINE + 1 }>::new(), MAX_LINE);
    let mut out: heapless::Vec<u8, 2048> = heapless::Vec::new();
    let t0 = Instant::ZERO;
    serve(&mut engine, &mut decoder, t0, SETUP, &mut out);
    for chunk in [WRITE_1, WRITE_0, WRITE_1, WRITE_0] {
        serve(&mut engine, &mut decoder, t0, chunk, &mut out);
    }
    assert_eq!(engine.board().log().len(), 4);
    for chunk in [READ, WRITE_1, WRITE_0, WRITE_1] {
        out.clear();
        let (n, _) = allocations(|| serve(&mut engine, &mut decoder, t0, chunk, &mut out));
        assert_eq!(n, 0, "SimBoard path allocated: {}", text(chunk));
        assert!(!text(&out).contains("error"), "{}", text(&out));
    }
    let (n, reverted) = allocations(|| engine.poll(t0 + Duration::from_secs(5)));
    assert_eq!((n, reverted), (0, 1));
}
