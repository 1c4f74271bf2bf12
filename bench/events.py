"""Input-event latency on piconetd's simulated board (benchmark only).

  python3 bench/events.py --port PORT [-n 2000]

Two connections to a running piconetd (simulated board, loopback): A sets
pin 5 up as an input and watches it; B alternates `sim_input` on it. For
each edge: the time from B writing its `sim_input` to A reading the event
line. In the same run, interleaved, B's `ping` round trip. Prints p50/p99
of both (µs) and their ratio as JSON. One edge or one ping at a time, so
neither waits behind the other.
"""

import argparse
import json
import socket
import time


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")

    def send(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")

    def line(self):
        return json.loads(self.f.readline())

    def cmd(self, obj):
        self.send(obj)
        r = self.line()
        assert "error" not in r, r
        return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=2000)
    args = ap.parse_args()
    a, b = Conn(args.port), Conn(args.port)
    a.cmd({"action": "setup_pin", "pin": 5, "mode": "input", "pull": "down"})
    a.cmd({"action": "watch_pin", "pin": 5})
    event_us, ping_us = [], []
    level = 0
    for i in range(args.n + 200):
        level ^= 1
        t0 = time.perf_counter_ns()
        b.send({"action": "sim_input", "pin": 5, "value": level})
        ev = a.line()
        t1 = time.perf_counter_ns()
        assert ev.get("event") == "edge" and ev["value"] == level, ev
        r = b.line()
        assert "error" not in r, r
        t2 = time.perf_counter_ns()
        b.cmd({"action": "ping"})
        t3 = time.perf_counter_ns()
        if i >= 200:  # warm-up
            event_us.append((t1 - t0) / 1000)
            ping_us.append((t3 - t2) / 1000)
    out = {
        "edges": args.n,
        "event_p50_us": round(percentile(event_us, 50), 1),
        "event_p99_us": round(percentile(event_us, 99), 1),
        "ping_p50_us": round(percentile(ping_us, 50), 1),
        "ping_p99_us": round(percentile(ping_us, 99), 1),
    }
    out["event_p50_over_ping_p50"] = round(out["event_p50_us"] / out["ping_p50_us"], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
