//! An in-memory duplex byte pipe: two ends, each reading what the other
//! wrote. Reads with nothing buffered are pending (the joined handshake
//! futures are polled in turn, so the other side then runs).

use alloc::collections::VecDeque;
use core::cell::RefCell;
use core::convert::Infallible;
use core::future::poll_fn;
use core::task::Poll;

/// Both directions' buffers.
pub struct Pipe {
    ab: RefCell<VecDeque<u8>>,
    ba: RefCell<VecDeque<u8>>,
}

/// One end of a [`Pipe`].
pub struct End<'a> {
    rx: &'a RefCell<VecDeque<u8>>,
    tx: &'a RefCell<VecDeque<u8>>,
}

impl Pipe {
    /// An empty pipe.
    pub fn new() -> Self {
        Pipe {
            ab: RefCell::new(VecDeque::new()),
            ba: RefCell::new(VecDeque::new()),
        }
    }

    /// Its two ends.
    pub fn ends(&self) -> (End<'_>, End<'_>) {
        (
            End {
                rx: &self.ba,
                tx: &self.ab,
            },
            End {
                rx: &self.ab,
                tx: &self.ba,
            },
        )
    }
}

impl embedded_io_async::ErrorType for End<'_> {
    type Error = Infallible;
}

impl embedded_io_async::Read for End<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| {
            let mut rx = self.rx.borrow_mut();
            if rx.is_empty() {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let n = buf.len().min(rx.len());
            for (d, s) in buf.iter_mut().zip(rx.drain(..n)) {
                *d = s;
            }
            Poll::Ready(Ok(n))
        })
        .await
    }
}

impl embedded_io_async::Write for End<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.tx.borrow_mut().extend(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}
