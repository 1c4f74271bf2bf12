//! One client connection: bytes in, lines out, through the shared engine.

use std::sync::Arc;

use piconet_engine::After;
use piconet_protocol::framing::{Frame, LineDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::server::Shared;

/// Bytes read from the socket at a time. Everything a read brings is
/// answered with one write, so pipelined commands leave together.
const READ_CHUNK: usize = 8 * 1024;

/// Why a connection ended, for the log.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The client sent the blank line that ends its commands.
    Done,
    /// The client closed its side.
    Closed,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// The socket failed.
    Io(std::io::Error),
}

pub(crate) async fn serve<S>(stream: &mut S, shared: &Arc<Shared>) -> Ended
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limits = shared.limits;
    let mut decoder = LineDecoder::new(Vec::new(), limits.max_line);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut out = Vec::new();
    loop {
        let n = match tokio::time::timeout(limits.idle_timeout, stream.read(&mut buf)).await {
            Err(_) => {
                let _ = stream.write_all(&idle_error(limits.idle_timeout)).await;
                let _ = stream.flush().await;
                return Ended::Idle;
            }
            Ok(Ok(0)) => return Ended::Closed,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Ended::Io(e),
        };
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
        // A long line may have grown the buffers; don't keep that per
        // idle connection.
        out.shrink_to(READ_CHUNK);
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

fn idle_error(after: std::time::Duration) -> Vec<u8> {
    format!(
        "{{\"error\": \"no command for {} s: connection closed\", \"exception\": \"TimeoutError\"}}\n",
        after.as_secs()
    )
    .into_bytes()
}
