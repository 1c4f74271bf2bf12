//! Event lines: what a server sends unasked to a connection that watches
//! pins (`watch_pin`). They have an `event` member and never an `action`,
//! so they are told apart from answers; [`crate::Connection`] keeps those
//! that arrive while it waits for an answer, bounded.

use std::collections::VecDeque;

use serde_json::{Map, Value};

use crate::pin::{level_from_json, Level};

/// Event lines a connection keeps while the caller is not reading them;
/// beyond it the newest are dropped and counted (an [`Event::Overflow`]),
/// as the server does with its own queue.
pub const MAX_BUFFERED_EVENTS: usize = 65_536;

/// One event line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An edge on a watched pin.
    Edge {
        /// The pin.
        pin: u32,
        /// Its level after the edge.
        value: Level,
        /// The board's monotonic microseconds when it happened.
        time_us: u64,
        /// This connection's edge count, from 1.
        seq: u64,
    },
    /// `dropped` edges, the last of them `seq`, did not fit a queue.
    Overflow {
        /// How many.
        dropped: u64,
        /// The seq of the last one.
        seq: u64,
    },
}

impl Event {
    /// The event a line holds: `None` for an answer (it has `action`, or
    /// no `event`); `Some(Err(line))` for an event line this client does
    /// not know.
    pub fn from_line(line: &Map<String, Value>) -> Option<Result<Event, Map<String, Value>>> {
        if line.contains_key("action") {
            return None;
        }
        let kind = line.get("event")?.as_str();
        let uint = |k: &str| line.get(k).and_then(Value::as_u64);
        let event = match kind {
            Some("edge") => (|| {
                Some(Event::Edge {
                    pin: u32::try_from(uint("pin")?).ok()?,
                    value: level_from_json(line.get("value")?)?,
                    time_us: uint("time_us")?,
                    seq: uint("seq")?,
                })
            })(),
            Some("overflow") => (|| {
                Some(Event::Overflow {
                    dropped: uint("dropped")?,
                    seq: uint("seq")?,
                })
            })(),
            _ => None,
        };
        Some(event.ok_or_else(|| line.clone()))
    }

    /// The highest seq this event accounts for.
    pub fn seq(&self) -> u64 {
        match *self {
            Event::Edge { seq, .. } | Event::Overflow { seq, .. } => seq,
        }
    }

    fn edges(&self) -> u64 {
        match *self {
            Event::Edge { .. } => 1,
            Event::Overflow { dropped, .. } => dropped,
        }
    }
}

/// The events waiting for the caller, bounded by `capacity`.
#[derive(Debug)]
pub(crate) struct EventBuffer {
    queue: VecDeque<Event>,
    capacity: usize,
    /// Edges dropped here since the last overflow queued, and the last's seq.
    dropped: Option<(u64, u64)>,
}

impl EventBuffer {
    pub(crate) fn new(capacity: usize) -> Self {
        EventBuffer {
            queue: VecDeque::new(),
            capacity: capacity.max(2),
            dropped: None,
        }
    }

    pub(crate) fn push(&mut self, event: Event) {
        let room = self.capacity - self.queue.len();
        match self.dropped {
            // Drops come out as one overflow line before the next event
            // that fits, so seqs stay in order and every edge is counted.
            Some((k, seq)) if room >= 2 => {
                self.queue.push_back(Event::Overflow { dropped: k, seq });
                self.dropped = None;
                self.queue.push_back(event);
            }
            None if room >= 1 => self.queue.push_back(event),
            _ => {
                let (k, _) = self.dropped.unwrap_or((0, 0));
                self.dropped = Some((k + event.edges(), event.seq()));
            }
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        self.queue.pop_front().or_else(|| {
            self.dropped
                .take()
                .map(|(dropped, seq)| Event::Overflow { dropped, seq })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn lines_with_event_and_no_action_are_events() {
        let edge = map(json!({"event": "edge", "pin": 5, "value": 1, "time_us": 9, "seq": 1}));
        assert_eq!(
            Event::from_line(&edge),
            Some(Ok(Event::Edge {
                pin: 5,
                value: Level::High,
                time_us: 9,
                seq: 1
            }))
        );
        let over = map(json!({"event": "overflow", "dropped": 3, "seq": 7}));
        assert_eq!(
            Event::from_line(&over),
            Some(Ok(Event::Overflow { dropped: 3, seq: 7 }))
        );
        // An answer that echoes an "event" member is an answer.
        let answer = map(json!({"action": "ping", "event": "edge"}));
        assert_eq!(Event::from_line(&answer), None);
        assert_eq!(Event::from_line(&map(json!({"error": "x"}))), None);
        let odd = map(json!({"event": "edge", "pin": 5}));
        assert_eq!(Event::from_line(&odd), Some(Err(odd.clone())));
    }

    #[test]
    fn a_full_buffer_counts_what_it_drops() {
        let mut b = EventBuffer::new(3);
        let edge = |seq| Event::Edge {
            pin: 1,
            value: Level::High,
            time_us: seq,
            seq,
        };
        for seq in 1..=5 {
            b.push(edge(seq));
        }
        assert_eq!(b.pop(), Some(edge(1)));
        assert_eq!(b.pop(), Some(edge(2)));
        b.push(edge(6));
        let rest: Vec<Event> = std::iter::from_fn(|| b.pop()).collect();
        assert_eq!(
            rest,
            [edge(3), Event::Overflow { dropped: 2, seq: 5 }, edge(6)]
        );
    }
}
