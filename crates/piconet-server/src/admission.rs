//! Connection and handshake slots: the engine's [`Slots`] policy applied
//! to sockets (issue 12.3).
//!
//! A [`Gate`] is one slot table plus, for each admitted connection, when
//! it last read something and how to tell its task it was evicted. The
//! daemon has two: connections (plaintext at accept, TLS only after the
//! handshake) and pending TLS handshakes (so half-open peers are bounded
//! and evicted oldest first, each holding one file descriptor at most).

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use piconet_engine::slots::{Refusal, Slot, SlotId, SlotLimits, Slots};
use piconet_engine::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::clock::Clock;

/// Whom a slot is counted against: the IP address, IPv4-mapped IPv6 as
/// IPv4, and an IPv6 address by its /64 prefix (one host usually has a
/// whole /64, so counting single IPv6 addresses would limit nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AddrKey(IpAddr);

impl From<IpAddr> for AddrKey {
    fn from(ip: IpAddr) -> Self {
        AddrKey(match ip {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    IpAddr::V6(prefix.into())
                }
            },
        })
    }
}

struct Held {
    /// Engine-clock nanoseconds of the last read that brought bytes.
    active: Arc<AtomicU64>,
    evicted: Arc<Notify>,
}

struct Table {
    slots: Slots<AddrKey, Vec<Option<Slot<AddrKey>>>>,
    held: HashMap<SlotId, Held>,
}

/// One slot table shared by the accept loop and the connection tasks.
pub(crate) struct Gate {
    table: Mutex<Table>,
    clock: Clock,
}

/// An admitted connection's slot; released when dropped.
pub(crate) struct Ticket {
    gate: Arc<Gate>,
    id: SlotId,
    active: Arc<AtomicU64>,
    evicted: Arc<Notify>,
}

impl Gate {
    pub(crate) fn new(capacity: usize, limits: SlotLimits, clock: Clock) -> Arc<Gate> {
        Arc::new(Gate {
            table: Mutex::new(Table {
                slots: Slots::new(vec![None; capacity.max(1)], limits),
                held: HashMap::new(),
            }),
            clock,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bring the table's idle times up to date before a decision that may
    /// evict (the connections record their reads without the lock).
    fn refresh(table: &mut Table) {
        let Table { slots, held } = table;
        for (id, h) in held.iter() {
            slots.touch(*id, Instant::from_nanos(h.active.load(Ordering::Relaxed)));
        }
    }

    /// Whether `addr` would be admitted now.
    pub(crate) fn check(&self, addr: AddrKey) -> Result<(), Refusal> {
        let now = self.clock.now();
        let mut table = self.lock();
        if table.slots.check(now, addr).is_ok() {
            return Ok(());
        }
        Self::refresh(&mut table);
        table.slots.check(now, addr)
    }

    /// Admit `addr`, evicting (and notifying) another connection if the
    /// policy says so.
    pub(crate) fn admit(self: &Arc<Self>, addr: AddrKey) -> Result<Ticket, Refusal> {
        let now = self.clock.now();
        let mut table = self.lock();
        if table.slots.check(now, addr).is_err() {
            Self::refresh(&mut table);
        }
        let admitted = table.slots.admit(now, addr)?;
        if let Some(victim) = admitted.evicted.and_then(|v| table.held.remove(&v)) {
            victim.evicted.notify_one();
        }
        let active = Arc::new(AtomicU64::new(now.as_nanos()));
        let evicted = Arc::new(Notify::new());
        table.held.insert(
            admitted.id,
            Held {
                active: active.clone(),
                evicted: evicted.clone(),
            },
        );
        Ok(Ticket {
            gate: self.clone(),
            id: admitted.id,
            active,
            evicted,
        })
    }
}

impl Ticket {
    /// Completes when this connection is evicted for a newcomer.
    pub(crate) async fn evicted(&self) {
        self.evicted.notified().await
    }

    /// Wrap `stream` so that every read bringing bytes marks the
    /// connection active.
    pub(crate) fn track<S>(&self, stream: S) -> Tracked<S> {
        Tracked {
            inner: stream,
            active: self.active.clone(),
            clock: self.gate.clock,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut table = self.gate.lock();
        if table.slots.release(self.id) {
            table.held.remove(&self.id);
        }
    }
}

/// A stream that records when it last read something.
pub(crate) struct Tracked<S> {
    inner: S,
    active: Arc<AtomicU64>,
    clock: Clock,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let now = self.clock.now().as_nanos();
            self.active.store(now, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl crate::event_lane::DirectSocket for Tracked<tokio::net::TcpStream> {
    fn duplicate(&self) -> Option<std::net::TcpStream> {
        std::os::fd::AsFd::as_fd(&self.inner)
            .try_clone_to_owned()
            .map(std::net::TcpStream::from)
            .ok()
    }
}

impl<S> crate::event_lane::DirectSocket for Tracked<tokio_rustls::server::TlsStream<S>> {
    fn duplicate(&self) -> Option<std::net::TcpStream> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_count_by_their_64_prefix_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(AddrKey::from(a), AddrKey::from(b));
        assert_ne!(AddrKey::from(a), AddrKey::from(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(AddrKey::from(mapped), AddrKey::from(v4));
    }
}
