//! GPIO edges taken in the interrupt: the time of each edge is read from
//! the µs timer in the handler (not when the task or the transport gets to
//! it), then app-core's edge task hands the edges to the engine's watches.
//!
//! embassy-rp binds `IO_IRQ_BANK0` itself (its handler wakes
//! `wait_for_*` futures and keeps no time), so [`install`] moves the vector
//! table to RAM and puts this module's handler in that slot: it takes the
//! edges of the inputs a client set up and passes every other pin's
//! interrupt on to embassy-rp's handler, which stays in charge of them.
//!
//! Every pin set up as an input has both edge interrupts enabled
//! ([`enable`]), watched or not: the engine drops edges of unwatched pins
//! with one bit test, and which pins are watched is the engine's business,
//! decided under its lock. A noisy unwatched input therefore costs
//! interrupts (a few µs each); set it up only when it is used.
//!
//! Two edges of one pin between two runs of the handler (both EDGE_HIGH
//! and EDGE_LOW latched) are reported in the order the level says they
//! happened, with the same time. More than two are indistinguishable to the
//! hardware and count as those two. While flash is written (interrupts off
//! for up to ≈ 45 ms per erased sector) edges wait the same way.

use embassy_rp::pac;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use piconet_app_core::edges::{EdgeQueue, RawEdge};
use piconet_engine::Level;
use portable_atomic::{AtomicU32, Ordering};

/// Edges on their way from the interrupt to the engine. 32: at the 10 kHz
/// square wave of the emulator benchmark (one edge per 50 µs) the edge
/// task may be kept from running for 1.6 ms before one is lost.
pub const EDGE_QUEUE: usize = 32;

/// The edges taken by the handler, drained by the edge task.
pub static EDGES: EdgeQueue<CriticalSectionRawMutex, EDGE_QUEUE> = EdgeQueue::new();

/// The inputs whose edges this handler takes, as it tests them: per bank
/// of 8 GPIOs, the EDGE_LOW and EDGE_HIGH bits of those inputs in that
/// bank's INTS layout (one AND per bank in the handler, no loop over its
/// pins).
static INPUT_BITS: [AtomicU32; 4] = [const { AtomicU32::new(0) }; 4];

/// Cortex-M0+ vector table: 16 system entries and the RP2040's 32 IRQs.
const VECTORS: usize = 16 + 32;
/// The table's slot of IO_IRQ_BANK0 (IRQ 13).
const IO_IRQ_BANK0_SLOT: usize = 16 + pac::Interrupt::IO_IRQ_BANK0 as usize;

/// VTOR needs the table aligned to its size rounded up to a power of two.
#[repr(C, align(256))]
struct VectorTable([usize; VECTORS]);

static mut RAM_VECTORS: VectorTable = VectorTable([0; VECTORS]);
/// embassy-rp's IO_IRQ_BANK0 handler, from the table in flash.
static EMBASSY_HANDLER: AtomicU32 = AtomicU32::new(0);

/// Move the vector table to RAM with this module's GPIO handler in it.
/// Call once, from `main`, after `embassy_rp::init`.
pub fn install() {
    cortex_m::interrupt::free(|_| {
        // SAFETY: the SCB is only touched here; the current table (in
        // flash, where VTOR points) has VECTORS readable entries;
        // RAM_VECTORS is written only here, with interrupts off, before
        // VTOR points at it.
        unsafe {
            let scb = &*cortex_m::peripheral::SCB::PTR;
            let flash = scb.vtor.read() as *const usize;
            let table = &mut *core::ptr::addr_of_mut!(RAM_VECTORS);
            for (i, slot) in table.0.iter_mut().enumerate() {
                *slot = flash.add(i).read_volatile();
            }
            EMBASSY_HANDLER.store(table.0[IO_IRQ_BANK0_SLOT] as u32, Ordering::Relaxed);
            table.0[IO_IRQ_BANK0_SLOT] = io_irq_bank0 as *const () as usize;
            cortex_m::asm::dsb();
            scb.vtor
                .write(core::ptr::addr_of!(RAM_VECTORS) as usize as u32);
            cortex_m::asm::dsb();
            cortex_m::asm::isb();
        }
    });
}

/// The four interrupt bits of `pin` in its INTR/INTE register (EDGE_LOW
/// and EDGE_HIGH: bits 2 and 3 of the pin's nibble).
fn edge_bits(pin: u32) -> u32 {
    0b1100 << (4 * (pin % 8))
}

/// Take `pin`'s edges from now on (it was set up as an input).
pub fn enable(pin: u32) {
    let io = pac::IO_BANK0;
    let bank = (pin / 8) as usize;
    cortex_m::interrupt::free(|_| {
        // Edges latched before it was an input mean nothing.
        io.intr(bank)
            .write_value(pac::io::regs::Int(edge_bits(pin)));
        let inte = io.int_proc(0).inte(bank);
        inte.write_value(pac::io::regs::Int(inte.read().0 | edge_bits(pin)));
        INPUT_BITS[bank].fetch_or(edge_bits(pin), Ordering::Relaxed);
    });
}

/// Stop taking `pin`'s edges (it is an output now).
pub fn disable(pin: u32) {
    let io = pac::IO_BANK0;
    let bank = (pin / 8) as usize;
    cortex_m::interrupt::free(|_| {
        if INPUT_BITS[bank].load(Ordering::Relaxed) & edge_bits(pin) == 0 {
            return;
        }
        INPUT_BITS[bank].fetch_and(!edge_bits(pin), Ordering::Relaxed);
        let inte = io.int_proc(0).inte(bank);
        inte.write_value(pac::io::regs::Int(inte.read().0 & !edge_bits(pin)));
        io.intr(bank)
            .write_value(pac::io::regs::Int(edge_bits(pin)));
    });
}

/// Edges lost because the queue was full (`get_info`'s `edges_lost`).
pub fn lost() -> u32 {
    EDGES.lost()
}

extern "C" fn io_irq_bank0() {
    // One time for every edge this run takes: the interrupt's entry.
    let time_us = embassy_time::Instant::now().as_micros();
    let io = pac::IO_BANK0;
    let mut others = false;
    for (bank, inputs) in INPUT_BITS.iter().enumerate() {
        let ints = io.int_proc(0).ints(bank).read().0;
        if ints == 0 {
            continue;
        }
        let mine = ints & inputs.load(Ordering::Relaxed);
        if ints & !mine != 0 {
            others = true;
        }
        if mine == 0 {
            continue;
        }
        // Acknowledge first, read the level after: an edge after the
        // acknowledgement latches again and is taken by the next run.
        io.intr(bank).write_value(pac::io::regs::Int(mine));
        let levels = pac::SIO.gpio_in(0).read();
        for group in 0..8u32 {
            let pin = bank as u32 * 8 + group;
            let bits = (mine >> (4 * group)) & 0b1100;
            if bits == 0 {
                continue;
            }
            let high = levels & (1 << pin) != 0;
            let push = |level| {
                EDGES.push(RawEdge {
                    pin: pin as u8,
                    level,
                    time_us,
                });
            };
            match (bits & 0b1000 != 0, bits & 0b0100 != 0) {
                // Both: it went away from its level and came back.
                (true, true) => {
                    let now = if high { Level::High } else { Level::Low };
                    push(if high { Level::Low } else { Level::High });
                    push(now);
                }
                (true, false) => push(Level::High),
                _ => push(Level::Low),
            }
        }
    }
    if others {
        let handler = EMBASSY_HANDLER.load(Ordering::Relaxed);
        if handler != 0 {
            // SAFETY: the address came from the flash vector table's
            // IO_IRQ_BANK0 entry, embassy-rp's `extern "C" fn()` handler,
            // called as the hardware would (in handler mode).
            let f: extern "C" fn() = unsafe { core::mem::transmute(handler as usize) };
            f();
        }
    }
}
