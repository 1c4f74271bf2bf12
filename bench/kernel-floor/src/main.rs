//! The least a server can do for `piconet bench --action event`: blocking
//! sockets, a thread per connection, every line answered at once, and the
//! event line written to the watcher from the sender's thread before the
//! sender's reply (as piconetd's event lane does). What it measures is the
//! kernel's share: how much more an event costs than a ping when the server
//! itself costs nothing.
//!
//!   cargo run --release -- --listen 127.0.0.1:PORT
//!   piconet bench 127.0.0.1:PORT --action event

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

const ANSWER: &[u8] = b"{\"action\": \"ping\", \"time_received\": 1}\n";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listen = match args.iter().position(|a| a == "--listen") {
        Some(i) if i + 1 < args.len() => args[i + 1].clone(),
        _ => {
            eprintln!("usage: kernel-floor --listen IP:PORT");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(&listen).unwrap_or_else(|e| {
        eprintln!("kernel-floor: cannot listen on {listen}: {e}");
        std::process::exit(1);
    });
    // The watching connection, and the seq of the last edge.
    let watcher: Arc<Mutex<Option<TcpStream>>> = Arc::new(Mutex::new(None));
    let seq = Arc::new(Mutex::new(0u64));
    for stream in listener.incoming().flatten() {
        let _ = stream.set_nodelay(true);
        let (watcher, seq) = (watcher.clone(), seq.clone());
        std::thread::spawn(move || serve(stream, &watcher, &seq));
    }
}

fn serve(stream: TcpStream, watcher: &Mutex<Option<TcpStream>>, seq: &Mutex<u64>) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut lines = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line.contains("watch_pin") {
            *watcher.lock().unwrap() = out.try_clone().ok();
        } else if line.contains("sim_input") {
            let level = u8::from(line.contains("\"value\": 1"));
            let mut seq = seq.lock().unwrap();
            // The bench's first sim_input sets the pulled-down pin low: no edge.
            if level == 1 || *seq > 0 {
                *seq += 1;
                if let Some(w) = watcher.lock().unwrap().as_mut() {
                    let event = format!(
                        "{{\"event\": \"edge\", \"pin\": 5, \"value\": {level}, \"time_us\": 1, \"seq\": {seq}}}\n"
                    );
                    let _ = w.write_all(event.as_bytes());
                }
            }
        }
        if out.write_all(ANSWER).is_err() {
            return;
        }
    }
}
