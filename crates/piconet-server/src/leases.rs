//! The lease timer: reverts pins at their deadlines.
//!
//! It is an OS thread rather than a tokio task: tokio's timer wheel has
//! millisecond granularity, while a futex wait (`park_timeout`) wakes
//! within tens of microseconds of the deadline, and a fail-safe should not
//! be late by a scheduler tick. Workers wake it with `unpark` (no lock)
//! when the earliest deadline may have changed.
//!
//! It takes the engine lock only to poll, and that lock inherits priority
//! (see `Shared`): a normal-priority worker holding it while this
//! real-time thread waits runs at this thread's priority until it lets go,
//! so a busy machine cannot park the revert behind a preempted worker.
//!
//! Nothing on this path logs synchronously: reverts go through a bounded
//! queue to the `piconetd-lease-log` thread (dropped and counted if full),
//! so a slow or broken log sink cannot delay the next revert. A revert more
//! than [`LATE_WARN`] late is a warning naming the pin and its deadline on
//! the clock of the replies' `time_received`, so a benchmark (bench/soak.py)
//! can tell which lease it was.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use piconet_engine::{Instant, Revert};
use tracing::{info, warn};

use crate::server::Shared;

/// Start the lease thread; it runs until `shared.stopping` is set and the
/// condition variable notified.
pub(crate) fn spawn(shared: Arc<Shared>) -> std::io::Result<JoinHandle<()>> {
    let (tx, rx) = sync_channel(LOG_QUEUE);
    let unlogged = Arc::new(AtomicU64::new(0));
    let u = unlogged.clone();
    // The board's timestamps are its epoch plus the engine clock.
    let epoch_ns = shared.engine().board().timestamp_ns(Instant::from_nanos(0));
    std::thread::Builder::new()
        .name("piconetd-lease-log".into())
        .spawn(move || log_reverts(rx, &u, epoch_ns))?;
    std::thread::Builder::new()
        .name("piconetd-leases".into())
        .spawn(move || {
            realtime();
            run(&shared, &tx, &unlogged)
        })
}

/// Reverts queued for the log thread; more are counted, not logged.
const LOG_QUEUE: usize = 256;

/// A revert later than this is logged as a warning: the fail-safe's p99
/// target (BENCHMARKS.md).
pub(crate) const LATE_WARN: Duration = Duration::from_millis(1);

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
        .map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => tracing::debug!("lease thread runs with SCHED_FIFO priority"),
        Err(e) => warn!(
            error = %e,
            "lease thread keeps a normal priority (grant CAP_SYS_NICE for real-time reverts)"
        ),
    }
}

fn run(shared: &Shared, log: &SyncSender<Revert>, unlogged: &AtomicU64) {
    let mut reverted: Vec<Revert> = Vec::with_capacity(piconet_engine::MAX_PINS);
    while !shared.stopping.load(Ordering::Acquire) {
        let next = {
            let mut engine = shared.engine();
            engine.poll_with(shared.clock.now(), |r| reverted.push(r));
            engine.next_deadline()
        };
        for r in reverted.drain(..) {
            if log.try_send(r).is_err() {
                unlogged.fetch_add(1, Ordering::Relaxed);
            }
        }
        match next {
            None => std::thread::park(),
            Some(deadline) => {
                let wait = deadline.saturating_since(shared.clock.now());
                if !wait.is_zero() {
                    std::thread::park_timeout(wait);
                }
            }
        }
    }
}

fn log_reverts(rx: Receiver<Revert>, unlogged: &AtomicU64, epoch_ns: u64) {
    let mut reported = 0;
    for r in rx {
        log(&r, epoch_ns);
        let lost = unlogged.load(Ordering::Relaxed);
        if lost > reported {
            warn!(
                reverts = lost - reported,
                "lease reverts not logged: they came faster than the log could take them"
            );
            reported = lost;
        }
    }
}

fn log(r: &Revert, epoch_ns: u64) {
    let late = r.at.saturating_since(r.deadline);
    match r.error {
        None if late > LATE_WARN => warn!(
            pin = r.pin,
            late_us = late.as_micros() as u64,
            due_ns = epoch_ns.saturating_add(r.deadline.as_nanos()),
            seen_ns = epoch_ns.saturating_add(r.at.as_nanos()),
            "lease reverted late: pin back to its safe state after its deadline"
        ),
        None => info!(
            pin = r.pin,
            safe = %r.safe,
            late_us = late.as_micros() as u64,
            "lease expired: pin back to its safe state"
        ),
        Some(e) => warn!(
            pin = r.pin,
            error = e.message(),
            "lease revert failed, retrying"
        ),
    }
}
