//! One client connection: bytes → lines → engine → one reply per line.

use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_time::{with_timeout, Duration};
use embedded_io_async::{Read, Write};
use piconet_engine::{After, Board, ConnId, Origin, Peer};
use piconet_protocol::framing::{Frame, LineDecoder};

use crate::clock::now;
use crate::Shared;

/// Why a connection ended without an I/O error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// The peer closed its side (read returned 0).
    Eof,
    /// The peer sent a blank line: "no more commands" (the original
    /// client ends its last command with `\n\n`).
    End,
    /// Nothing arrived for the idle timeout.
    Idle,
}

/// Per-connection settings.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Close a connection that sends nothing for this long.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Serve one connection until the peer ends it.
///
/// `origin` is where its lines come from: [`Origin::Network`] for TCP and
/// TLS, [`Origin::Local`] only for the USB cable (the engine accepts the
/// settings-changing actions from a local origin alone).
///
/// `LINE` is the longest accepted command line (the decoder's storage is
/// `LINE + 1` so a trailing `\r` fits); `OUT` is the reply buffer and
/// should be `LINE + piconet_engine::RESPONSE_OVERHEAD`; `CHUNK` is the
/// read size. All three live in the caller's future, i.e. in the socket
/// task's static memory on the firmware.
///
/// Replies are written as soon as each line is answered and flushed once
/// the chunk that carried them is consumed. A reply that asks for a reset
/// or a sleep is flushed first, then [`piconet_engine::Engine::after_reply`]
/// runs; before a deep sleep every lease is reverted to its safe level,
/// since the engine forgets leases across it.
pub async fn serve<M, B, S, const LINE: usize, const OUT: usize, const CHUNK: usize>(
    shared: &Shared<M, B>,
    io: &mut S,
    origin: Origin,
    limits: Limits,
) -> Result<Closed, S::Error>
where
    M: RawMutex,
    B: Board,
    S: Read + Write,
{
    let mut decoder = LineDecoder::new(heapless::Vec::<u8, LINE>::new(), LINE.saturating_sub(1));
    let mut out = heapless::Vec::<u8, OUT>::new();
    let mut chunk = [0u8; CHUNK];
    // Every connection is ConnId(0) for now: nothing here calls
    // `Engine::disconnected` yet, so no lease is released on disconnect
    // until the connections are numbered.
    let peer = Peer {
        origin,
        conn: ConnId(0),
    };
    loop {
        let n = match with_timeout(limits.idle_timeout, io.read(&mut chunk)).await {
            Err(_) => return Ok(Closed::Idle),
            Ok(r) => r?,
        };
        if n == 0 {
            return Ok(Closed::Eof);
        }
        shared.activity.signal(());
        let mut input = &chunk[..n];
        while let Some(frame) = decoder.decode(&mut input) {
            out.clear();
            let after = {
                let mut engine = shared.engine.lock().await;
                match frame {
                    Frame::Line(line) => engine.handle_from(now(), line, peer, &mut out),
                    Frame::TooLong => {
                        engine.handle_too_long(LINE.saturating_sub(1), &mut out);
                        After::Nothing
                    }
                    Frame::End => {
                        drop(engine);
                        io.flush().await?;
                        return Ok(Closed::End);
                    }
                }
            };
            shared.leases_changed.signal(());
            io.write_all(&out).await?;
            if after != After::Nothing {
                io.flush().await?;
                let mut engine = shared.engine.lock().await;
                if let After::Sleep { deep: true, .. } = after {
                    engine.release_all(now(), |_| {});
                }
                engine.after_reply(after);
                drop(engine);
                shared.leases_changed.signal(());
            }
        }
        io.flush().await?;
    }
}
