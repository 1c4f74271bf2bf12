//! The original's framing: one JSON object and `\n` per command, `\n\n` after
//! the last one ("no more commands, you may close"); one answer line back per command.

use serde_json::{Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Answers longer than this are refused unless the client is told otherwise:
/// far above anything a Pico answers, far below what would hurt the host.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The bytes of one command on the wire.
pub(crate) fn encode(command: &Map<String, Value>, last: bool) -> Vec<u8> {
    let mut line = serde_json::to_vec(command).expect("a JSON map always serializes");
    line.extend_from_slice(if last { b"\n\n" } else { b"\n" });
    line
}

/// How reading one answer line ended.
#[derive(Debug, PartialEq, Eq)]
pub enum LineEnd {
    /// `buf` holds the line without its `\n` (nor a `\r` before it).
    Line,
    /// The peer closed the connection before a `\n`.
    Closed,
    /// The line exceeded the limit; `buf` holds at most `limit` bytes of it.
    TooLong,
}

/// Reads one line into `buf` (cleared first), never holding more than
/// `limit` bytes of it, so a server that never sends `\n` cannot exhaust memory.
/// The one line reader of the client and the CLI.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<LineEnd> {
    buf.clear();
    continue_line(reader, buf, limit).await
}

/// Reads the rest of a line whose start `buf` may already hold, as
/// [`read_line`] does. Cancel-safe: every byte consumed from `reader` is
/// in `buf` at every await, so a caller that drops the future (a
/// `select!` on events) and calls again loses nothing.
pub(crate) async fn continue_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<LineEnd> {
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(LineEnd::Closed);
        }
        let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], true),
            None => (available, false),
        };
        if buf.len() + chunk.len() > limit {
            let room = limit - buf.len();
            buf.extend_from_slice(&chunk[..room]);
            return Ok(LineEnd::TooLong);
        }
        buf.extend_from_slice(chunk);
        let used = chunk.len() + usize::from(found);
        reader.consume(used);
        if found {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(LineEnd::Line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::io::BufReader;

    #[test]
    fn last_command_ends_with_a_blank_line() {
        let cmd = json!({"action": "ping"}).as_object().unwrap().clone();
        assert_eq!(encode(&cmd, false), b"{\"action\":\"ping\"}\n");
        assert_eq!(encode(&cmd, true), b"{\"action\":\"ping\"}\n\n");
    }

    async fn lines(input: &[u8], limit: usize) -> Vec<(LineEnd, Vec<u8>)> {
        // A 3-byte buffer makes lines span several reads.
        let mut reader = BufReader::with_capacity(3, input);
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let end = read_line(&mut reader, &mut buf, limit).await.unwrap();
            let stop = end != LineEnd::Line;
            out.push((end, buf));
            if stop {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn splits_lines_across_reads_and_keeps_the_rest() {
        let got = lines(b"{\"a\":1}\r\n{\"b\":22}\npartial", 100).await;
        assert_eq!(
            got,
            vec![
                (LineEnd::Line, b"{\"a\":1}".to_vec()),
                (LineEnd::Line, b"{\"b\":22}".to_vec()),
                (LineEnd::Closed, b"partial".to_vec()),
            ]
        );
    }

    #[tokio::test]
    async fn a_line_at_the_limit_passes_one_byte_over_does_not() {
        let at = lines(b"12345\n", 5).await;
        assert_eq!(at[0], (LineEnd::Line, b"12345".to_vec()));
        let over = lines(b"123456\n", 5).await;
        assert_eq!(over, vec![(LineEnd::TooLong, b"12345".to_vec())]);
    }
}
