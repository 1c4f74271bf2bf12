"""Input-event latency on piconetd's simulated board (benchmark only).

  python3 bench/events.py --port PORT [-n 2000]
  python3 bench/events.py --port PORT --rates 5000,20000,0 [--edges 20000]

Two connections to a running piconetd (simulated board, loopback): A sets
pin 5 up as an input and watches it; B alternates `sim_input` on it. For
each edge: the time from B writing its `sim_input` to A reading the event
line. In the same run, interleaved, B's `ping` round trip. Prints p50/p99
of both (µs) and their ratio as JSON. One edge or one ping at a time, so
neither waits behind the other. The event side also pays for Python's
json.dumps/loads of the longer lines (a few µs): `piconet bench ADDR
--action event` times the same rounds around the socket calls alone.

With --rates: for each rate (edges/s; 0 = as fast as B's socket takes
them), B sends --edges `sim_input` lines paced in writes of --batch (8), a thread
draining its replies, while A reads its event lines until the seqs of the
edges delivered plus the `dropped` counts of its overflow lines account
for every edge B sent. Prints, per rate, the rate achieved, the edges
delivered and dropped, and whether they add up.
"""

import argparse
import json
import multiprocessing
import socket
import threading
import time


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


class Conn:
    def __init__(self, port, rcvbuf=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.connect(("127.0.0.1", port))
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


def watch_until_accounted(port, edges, pipe, pause):
    """Connection A, in a process of its own (so reading it never waits
    for the sender's GIL): watch pin 5, say so, then read event lines until
    the edges delivered plus the overflow lines' `dropped` account for
    `edges`; send back what it saw. With `pause`, A's receive buffer is
    small and A reads nothing for `pause` seconds: a watcher that cannot
    keep up."""
    a = Conn(port, rcvbuf=4096 if pause else None)
    a.cmd({"action": "setup_pin", "pin": 5, "mode": "input", "pull": "down"})
    a.cmd({"action": "watch_pin", "pin": 5})
    pipe.send("watching")
    time.sleep(pause)
    delivered = dropped = 0
    last_seq = 0
    a.s.settimeout(10)
    t_first = None
    while delivered + dropped < edges:
        ev = a.line()
        if t_first is None:
            t_first = time.perf_counter()
        if ev.get("event") == "edge":
            delivered += 1
        elif ev.get("event") == "overflow":
            dropped += ev["dropped"]
        else:
            raise AssertionError(ev)
        last_seq = ev["seq"]
    pipe.send((delivered, dropped, last_seq, time.perf_counter() - t_first))


def rate_run(port, rate, edges, batch, pause):
    """One flood of `edges` edges at `rate` edges/s (0: unpaced), `batch`
    `sim_input` lines per write."""
    b = Conn(port)
    # Start from a known level: the first edge of the flood is a rise.
    b.cmd({"action": "sim_input", "pin": 5, "value": 0})
    here, there = multiprocessing.Pipe()
    watcher = multiprocessing.Process(target=watch_until_accounted, args=(port, edges, there, pause))
    watcher.start()
    assert here.recv() == "watching"

    def drain():
        for _ in range(edges):
            r = b.line()
            assert "error" not in r, r

    t = threading.Thread(target=drain)
    t.start()
    # time.sleep (between batches) releases the GIL for the thread that
    # drains B's replies.
    lines = [
        (json.dumps({"action": "sim_input", "pin": 5, "value": v}) + "\n").encode()
        for v in (1, 0)
    ]
    t0 = time.perf_counter()
    sent = 0
    while sent < edges:
        k = min(batch, edges - sent)
        b.s.sendall(b"".join(lines[(sent + j) % 2] for j in range(k)))
        sent += k
        if rate:
            ahead = t0 + sent / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    t_sent = time.perf_counter() - t0
    t.join()
    delivered, dropped, last_seq, t_read = here.recv()
    watcher.join()
    b.s.close()
    return {
        "rate_asked": rate,
        "batch": batch,
        "watcher_pause_s": pause,
        "rate_sent": round(edges / t_sent),
        # From A's first event line to its last: how fast edges reached A.
        "rate_read": round(edges / max(t_read, t_sent, 1e-9)),
        "edges": edges,
        "delivered": delivered,
        "dropped": dropped,
        # Every edge has a seq: the last line's is the number of edges.
        "accounted": delivered + dropped == edges and last_seq == edges,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--rates", help="comma-separated edges/s (0 = unpaced)")
    ap.add_argument("--edges", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=8, help="sim_input lines per write")
    ap.add_argument(
        "--watcher-pause", type=float, default=0, help="seconds A reads nothing (small buffer)"
    )
    args = ap.parse_args()
    if args.rates:
        for r in args.rates.split(","):
            print(json.dumps(rate_run(args.port, int(r), args.edges, args.batch, args.watcher_pause)))
        return
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
