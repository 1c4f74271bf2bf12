//! Round-trip statistics of `ping`, as the original's `send_ping` computes them.

use serde::Serialize;

use crate::error::Error;
use crate::response::Response;

/// Smallest, mean and largest of some nanosecond intervals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Spread {
    /// Smallest, ns.
    pub min_ns: i64,
    /// Mean, ns (rounded down).
    pub avg_ns: i64,
    /// Largest, ns.
    pub max_ns: i64,
}

impl Spread {
    fn of(values: &[i64]) -> Option<Self> {
        let min_ns = *values.iter().min()?;
        let max_ns = *values.iter().max()?;
        let sum: i128 = values.iter().map(|&v| i128::from(v)).sum();
        let avg = sum.div_euclid(values.len() as i128);
        Some(Self {
            min_ns,
            avg_ns: avg as i64,
            max_ns,
        })
    }
}

/// What `n` pings over one connection measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PingStats {
    /// Pings answered.
    pub count: usize,
    /// `time_responded - time_sent`: the round trip, on the client's clock.
    pub round_trip: Spread,
    /// `time_received - time_sent`: one way, but across two clocks, so only
    /// meaningful when they agree (it can even be negative).
    pub to_server: Spread,
}

impl PingStats {
    /// The statistics of some answered pings; an error answer is an error.
    pub fn from_responses(responses: &[Response]) -> Result<Self, Error> {
        let mut round_trip = Vec::with_capacity(responses.len());
        let mut to_server = Vec::with_capacity(responses.len());
        for r in responses {
            let r = r.clone().into_result()?;
            let sent = r.field("time_sent", serde_json::Value::as_i64)?;
            let responded = r.field("time_responded", serde_json::Value::as_i64)?;
            let received = r.field("time_received", serde_json::Value::as_i64)?;
            round_trip.push(responded.saturating_sub(sent));
            to_server.push(received.saturating_sub(sent));
        }
        match (Spread::of(&round_trip), Spread::of(&to_server)) {
            (Some(round_trip), Some(to_server)) => Ok(Self {
                count: responses.len(),
                round_trip,
                to_server,
            }),
            _ => Err(Error::InvalidArgument("no ping answers to measure".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pong(sent: i64, received: i64, responded: i64) -> Response {
        Response::from_raw(
            json!({"action": "ping", "time_sent": sent, "time_received": received,
                   "time_responded": responded})
            .as_object()
            .unwrap()
            .clone(),
        )
    }

    #[test]
    fn min_avg_max_of_both_intervals() {
        let s = PingStats::from_responses(&[
            pong(0, 10, 100),
            pong(1000, 1005, 1300),
            pong(2000, 1990, 2200),
        ])
        .unwrap();
        assert_eq!(s.count, 3);
        assert_eq!(
            s.round_trip,
            Spread {
                min_ns: 100,
                avg_ns: 200,
                max_ns: 300
            }
        );
        assert_eq!(
            s.to_server,
            Spread {
                min_ns: -10,
                avg_ns: 1,
                max_ns: 10
            }
        );
    }

    #[test]
    fn an_error_answer_or_a_missing_time_fails() {
        let mut bad = pong(0, 1, 2).into_raw();
        bad.insert("error".into(), json!("boom"));
        bad.insert("exception".into(), json!("ValueError"));
        assert!(matches!(
            PingStats::from_responses(&[Response::from_raw(bad)]),
            Err(Error::Server { .. })
        ));
        let mut untimed = pong(0, 1, 2).into_raw();
        untimed.remove("time_received");
        assert!(matches!(
            PingStats::from_responses(&[Response::from_raw(untimed)]),
            Err(Error::MissingField {
                field: "time_received",
                ..
            })
        ));
        assert!(PingStats::from_responses(&[]).is_err());
    }
}
