//! A bare line-echo server: no JSON, no engine, the same tokio accept and
//! read/write loop shape as piconetd. Benchmarks use it as the ceiling of
//! what the machine's loopback allows (see BENCHMARKS.md).
//!
//! `cargo run --release -p piconet-server --example line_echo -- 127.0.0.1:12399`

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:12399".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("line_echo listening on {}", listener.local_addr()?);
    loop {
        let (mut tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut pending = Vec::new();
            loop {
                let n = match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                // Echo complete lines only, like a line protocol would.
                pending.extend_from_slice(&buf[..n]);
                if let Some(last) = pending.iter().rposition(|&b| b == b'\n') {
                    if tcp.write_all(&pending[..=last]).await.is_err() {
                        return;
                    }
                    pending.drain(..=last);
                }
            }
        });
    }
}
