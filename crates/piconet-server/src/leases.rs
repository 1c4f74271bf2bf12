//! The lease timer: reverts pins at their deadlines.
//!
//! It is an OS thread waiting on a condition variable tied to the engine's
//! mutex rather than a tokio task: tokio's timer wheel has millisecond
//! granularity, while a futex wait wakes within tens of microseconds of the
//! deadline, and a fail-safe should not be late by a scheduler tick.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use piconet_engine::Revert;
use tracing::{info, warn};

use crate::server::Shared;

/// Start the lease thread; it runs until `shared.stopping` is set and the
/// condition variable notified.
pub(crate) fn spawn(shared: Arc<Shared>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("piconetd-leases".into())
        .spawn(move || {
            realtime();
            run(&shared)
        })
}

/// Ask for a real-time (SCHED_FIFO) priority: under load a normal thread
/// waits milliseconds for a CPU, a real-time one tens of microseconds
/// (BENCHMARKS.md). The thread only polls and sleeps, so it cannot starve
/// the machine. Without the privilege (CAP_SYS_NICE) it runs as before.
fn realtime() {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy,
        ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
    };
    let priority = ThreadPriorityValue::try_from(10u8).map(ThreadPriority::Crossplatform);
    let result = priority.map_err(|e| e.to_string()).and_then(|p| {
        set_thread_priority_and_policy(
            thread_native_id(),
            p,
            ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
        )
        .map_err(|e| format!("{e:?}"))
    });
    match result {
        Ok(()) => tracing::debug!("lease thread runs with SCHED_FIFO priority"),
        Err(e) => warn!(
            error = %e,
            "lease thread keeps a normal priority (grant CAP_SYS_NICE for real-time reverts)"
        ),
    }
}

fn run(shared: &Shared) {
    let mut reverted: Vec<Revert> = Vec::new();
    let mut engine = shared.engine();
    while !shared.stopping.load(Ordering::Acquire) {
        let now = shared.clock.now();
        engine.poll_with(now, |r| reverted.push(r));
        if !reverted.is_empty() {
            // Log without holding the engine: clients wait on it.
            drop(engine);
            for r in reverted.drain(..) {
                log(&r);
            }
            engine = shared.engine();
            continue;
        }
        engine = match engine.next_deadline() {
            None => shared.wait_for_leases(engine, None),
            Some(deadline) => {
                let wait = deadline.saturating_since(now);
                shared.wait_for_leases(engine, Some(wait))
            }
        };
    }
}

fn log(r: &Revert) {
    match r.error {
        None => info!(
            pin = r.pin,
            level = r.level.as_u8(),
            late_us = r.at.saturating_since(r.deadline).as_micros() as u64,
            "lease expired: pin back to its safe level"
        ),
        Some(e) => warn!(
            pin = r.pin,
            error = e.message(),
            "lease revert failed, retrying"
        ),
    }
}
