//! One client connection: bytes in, lines out, through the shared engine.

use std::sync::Arc;

use piconet_engine::After;
use piconet_protocol::framing::{Frame, LineDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::server::Shared;

/// Most bytes read from the socket at a time. Everything a read brings is
/// answered with one write, so pipelined commands leave together.
const READ_CHUNK: usize = 8 * 1024;

/// The read buffer of a connection that sends little at a time (one
/// command, then waits): an idle connection keeps only this much. A read
/// that fills it grows it to [`READ_CHUNK`] for the next one.
const READ_SMALL: usize = 512;

/// Why a connection ended, for the log.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The client sent the blank line that ends its commands.
    Done,
    /// The client closed its side.
    Closed,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// A command line was not finished within the line timeout.
    SlowLine,
    /// The socket failed.
    Io(std::io::Error),
}

pub(crate) async fn serve<S>(stream: &mut S, shared: &Arc<Shared>) -> Ended
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limits = shared.limits;
    let mut decoder = LineDecoder::new(Vec::new(), limits.max_line);
    let mut buf = vec![0u8; READ_SMALL];
    let mut out = Vec::new();
    // When the unfinished line in the decoder started arriving.
    let mut line_started: Option<tokio::time::Instant> = None;
    loop {
        let idle_deadline = tokio::time::Instant::now() + limits.idle_timeout;
        let deadline = match line_started {
            Some(t) => idle_deadline.min(t + limits.line_timeout),
            None => idle_deadline,
        };
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => {
                let (ended, message) = match line_started {
                    Some(_) if deadline < idle_deadline => (
                        Ended::SlowLine,
                        timeout_error("command line not finished within", limits.line_timeout),
                    ),
                    _ => (
                        Ended::Idle,
                        timeout_error("no command for", limits.idle_timeout),
                    ),
                };
                let _ = stream.write_all(&message).await;
                let _ = stream.flush().await;
                return ended;
            }
            Ok(Ok(0)) => return Ended::Closed,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Ended::Io(e),
        };
        let read_at = tokio::time::Instant::now();
        let mut input = &buf[..n];
        loop {
            let step = shared.answer(&mut decoder, &mut input, &mut out);
            if !out.is_empty() {
                let sent = async {
                    stream.write_all(&out).await?;
                    stream.flush().await
                };
                if let Err(e) = sent.await {
                    return Ended::Io(e);
                }
                out.clear();
            }
            match step {
                Step::More => break,
                Step::End => {
                    let _ = stream.shutdown().await;
                    return Ended::Done;
                }
                Step::After(after) => shared.after_reply(after),
            }
        }
        line_started = match (decoder.is_mid_line(), line_started) {
            (false, _) => None,
            (_, Some(t)) if !ended_a_line(&buf[..n]) => Some(t),
            // A new unfinished line began in this read.
            _ => Some(read_at),
        };
        // A burst may have grown the buffers; a connection that is back
        // to small reads does not keep that while it idles.
        if n == buf.len() && buf.len() < READ_CHUNK {
            buf.resize(READ_CHUNK, 0);
        } else if n < READ_SMALL && buf.len() > READ_SMALL {
            buf.truncate(READ_SMALL);
            buf.shrink_to_fit();
        }
        out.shrink_to(READ_CHUNK);
        decoder.shrink_to(READ_CHUNK);
    }
}

/// What to do after answering what could be answered.
pub(crate) enum Step {
    /// Read more.
    More,
    /// The client is done.
    End,
    /// Carry out a reset or sleep now that its reply went out, then go on.
    After(After),
}

/// Answer complete frames in `input` into `out`, stopping early at a
/// command whose effect must wait until its reply is sent.
pub(crate) fn answer_frames(
    engine: &mut crate::server::SharedEngine,
    now: piconet_engine::Instant,
    decoder: &mut LineDecoder<Vec<u8>>,
    input: &mut &[u8],
    out: &mut Vec<u8>,
) -> Step {
    let max = decoder.max_len();
    while let Some(frame) = decoder.decode(input) {
        match frame {
            Frame::Line(line) => match engine.handle(now, line, out) {
                After::Nothing => {}
                after => return Step::After(after),
            },
            Frame::TooLong => engine.handle_too_long(max, out),
            Frame::End => return Step::End,
        }
    }
    Step::More
}

fn ended_a_line(chunk: &[u8]) -> bool {
    chunk.contains(&b'\n')
}

fn timeout_error(what: &str, after: std::time::Duration) -> Vec<u8> {
    format!(
        "{{\"error\": \"{what} {} s: connection closed\", \"exception\": \"TimeoutError\"}}\n",
        after.as_secs_f64()
    )
    .into_bytes()
}
