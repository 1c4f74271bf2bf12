//! Counting MbedTLS's heap, board side and client side apart.
//!
//! On the firmware, MbedTLS's `calloc`/`free` are the Rust global
//! allocator's heap ([`FIRMWARE_HEAP`]), and nothing else allocates there. Here MbedTLS
//! is pointed (`mbedtls_platform_set_calloc_free`) at [`calloc`]/[`free`],
//! which allocate from the Rust global allocator and count the bytes per
//! side: code polled inside [`AsClient`] is the client, everything else the
//! board. The header in front of each block remembers size and side, so a
//! block is uncounted from the side that allocated it.
//!
//! Not seen by the counter: the few context structs mbedtls-rs itself
//! allocates with the C library's `calloc` (per session an
//! `mbedtls_ssl_config`, `mbedtls_ssl_context` and `mbedtls_ctr_drbg_context`;
//! per identity an `mbedtls_x509_crt` and an `mbedtls_pk_context`).
//! [`session_structs`] and [`identity_structs`] give their sizes, to be added.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::Cell;
use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::task::{Context, Poll};

use mbedtls_rs::sys;

const HEADER: usize = 16;

/// The firmware's heap, `HEAP_SIZE` in app/src/main.rs (the app builds for
/// the RP2040 only, so the tests cannot read it from there): what the heap
/// tests' peaks must fit in.
pub const FIRMWARE_HEAP: usize = 68 * 1024;

/// Which end of the link an allocation belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The firmware's code under test.
    Board,
    /// The test's TLS client.
    Client,
}

thread_local! {
    static SIDE: Cell<Side> = const { Cell::new(Side::Board) };
}

struct Counter {
    live: AtomicUsize,
    peak: AtomicUsize,
}

static BOARD: Counter = Counter {
    live: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
};
static CLIENT: Counter = Counter {
    live: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
};

fn counter(side: Side) -> &'static Counter {
    match side {
        Side::Board => &BOARD,
        Side::Client => &CLIENT,
    }
}

fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, HEADER).ok()
}

/// MbedTLS's `calloc`: zeroed, counted, NULL on overflow or exhaustion.
///
/// # Safety
/// Called by MbedTLS only.
pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    let Some(bytes) = n.checked_mul(size) else {
        return std::ptr::null_mut();
    };
    let Some(l) = layout(bytes) else {
        return std::ptr::null_mut();
    };
    let p = alloc_zeroed(l);
    if p.is_null() {
        return p.cast();
    }
    let side = SIDE.with(Cell::get);
    p.cast::<usize>().write(bytes);
    p.cast::<usize>().add(1).write(side as usize);
    let c = counter(side);
    let live = c.live.fetch_add(bytes, Ordering::Relaxed) + bytes;
    c.peak.fetch_max(live, Ordering::Relaxed);
    p.add(HEADER).cast()
}

/// MbedTLS's `free`.
///
/// # Safety
/// `ptr` is NULL or came from [`calloc`] and is freed once.
pub unsafe extern "C" fn free(ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    let p = ptr.cast::<u8>().sub(HEADER);
    let bytes = p.cast::<usize>().read();
    let side = if p.cast::<usize>().add(1).read() == Side::Client as usize {
        Side::Client
    } else {
        Side::Board
    };
    counter(side).live.fetch_sub(bytes, Ordering::Relaxed);
    dealloc(p, layout(bytes).unwrap());
}

/// Point MbedTLS at the counting allocator (once per process, before any
/// MbedTLS object exists).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: nothing has been allocated by MbedTLS yet in this process
        // (every test calls this before creating a Tls), and the functions
        // are valid for the whole program.
        let r = unsafe { sys::mbedtls_platform_set_calloc_free(Some(calloc), Some(free)) };
        assert_eq!(r, 0);
    });
}

/// Bytes MbedTLS holds now on `side`.
pub fn live(side: Side) -> usize {
    counter(side).live.load(Ordering::Relaxed)
}

/// Most bytes MbedTLS held at once on `side` since the last [`reset_peak`].
pub fn peak(side: Side) -> usize {
    counter(side).peak.load(Ordering::Relaxed)
}

/// Start a new peak measurement from what is live now.
pub fn reset_peak(side: Side) {
    let c = counter(side);
    c.peak
        .store(c.live.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// Run `f` with allocations counted as the client's.
pub fn as_client<R>(f: impl FnOnce() -> R) -> R {
    let before = SIDE.with(|s| s.replace(Side::Client));
    let r = f();
    SIDE.with(|s| s.set(before));
    r
}

/// A future whose polls count as the client's. Let it run to completion
/// so the client's sessions are dropped inside a poll.
pub struct AsClient<F>(pub F);

impl<F: Future> Future for AsClient<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning of the only field.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        as_client(|| inner.poll(cx))
    }
}

/// Bytes of the context structs mbedtls-rs allocates per session outside
/// MbedTLS's allocator (x86_64 sizes).
pub fn session_structs() -> usize {
    size_of::<sys::mbedtls_ssl_config>()
        + size_of::<sys::mbedtls_ssl_context>()
        + size_of::<sys::mbedtls_ctr_drbg_context>()
}

/// Bytes of the structs mbedtls-rs allocates per parsed certificate and key
/// outside MbedTLS's allocator (x86_64 sizes).
pub fn identity_structs() -> usize {
    size_of::<sys::mbedtls_x509_crt>() + size_of::<sys::mbedtls_pk_context>() + size_of::<usize>()
}
