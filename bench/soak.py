"""Soak test for piconetd (bench/soak.sh runs it; benchmark-only, loopback only).

  python3 bench/soak.py --port PORT --pid PID --seconds 600 [--bound-ms 5]
      [--daemon-log FILE]

For --seconds, all at once:
  - lease clients: 26 connections, one per usable pin; each writes 1 with a
    random 10-200 ms timeout, waits for it to pass, reads the pin back
    (it must be 0 again) and repeats. With probability 1/20 after a write
    the connection is killed (aborted, RST) with the lease running, and a
    new one takes over the pin once that lease has passed.
  - churn: 8 tasks opening a connection, sending a ping, closing.
  - killers: 4 tasks opening a connection, sending part of a command or a
    burst of commands, then aborting it at a random moment.
  - idle crowd: up to 40 connections opened and closed at random times.

Every loop is bounded by the deadline. Every 10 s the daemon's VmRSS is
sampled. At the end: the daemon's `lease_reverts` must count every lease
written, no read-back may have found a pin still high, the latest revert
must be within --bound-ms of its deadline, and RSS after the first minute
must not grow by more than --rss-growth-kib. Prints one JSON object; exits
1 if a check failed.

Which revert was late, and was it the machine: every lease gets an id and
keeps the `time_received` of its write_pin reply (the daemon's clock), so
its deadline is known on the daemon's clock. piconetd logs each revert more
than 1 ms late as a warning with the pin and that deadline; with
--daemon-log (its stderr) those lines are matched to their leases and the
worst are listed (lease id, pin, timeout, due and seen, seconds from the
start). Beside the whole run a bare SCHED_FIFO sleeper (helpers.py rtprobe,
`chrt -f 10`, or at normal priority without the privilege) measures the
machine's own floor; each late revert lists the probe's worst stall around
it (within --stall-window-ms): a revert that is late while the probe is on
time was piconetd's; one late together with the probe, the machine's.
The VM's steal time (/proc/stat) and the load average are sampled every
second, and each late revert also gets the steal in the second around it;
piconetd's page faults and its lease thread's faults and context switches
(/proc/PID/stat, /proc/PID/task/TID/{stat,status}) are read at start and
end, to tell a stolen CPU from a faulting or preempted lease thread.
"""

import argparse
import asyncio
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
PINS = list(range(0, 23)) + [26, 27, 28]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def abort(writer):
    # RST instead of FIN: the peer vanished.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def command(reader, writer, line):
    writer.write(line.encode() + b"\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.readline(), 10)
    if not answer:
        raise ConnectionError(f"closed after {line}")
    return json.loads(answer)


async def connect():
    # The slot policy may refuse a burst from one address: retry briefly.
    for _ in range(100):
        try:
            reader, writer = await asyncio.open_connection(HOST, ARGS.port)
            return reader, writer
        except OSError:
            await asyncio.sleep(0.05)
    raise ConnectionError("cannot connect")


# pin -> [(lease id, time_received ns, timeout s)], for the late-revert log.
LEASES = {}
NEXT_LEASE = [0]

STATS = {
    "leases_written": 0,
    "read_backs": 0,
    "still_high": 0,
    "killed_with_lease": 0,
    "churned": 0,
    "killed": 0,
    "idle_opened": 0,
    "errors": 0,
}


async def lease_client(pin, deadline):
    while time.monotonic() < deadline:
        try:
            reader, writer = await connect()
            r = await command(
                reader, writer, f'{{"action": "setup_pin", "pin": {pin}, "mode": "output", "value": 0}}'
            )
            if "error" in r:
                raise ConnectionError(r["error"])
            while time.monotonic() < deadline:
                timeout = round(random.uniform(0.010, 0.200), 4)
                r = await command(
                    reader,
                    writer,
                    f'{{"action": "write_pin", "pin": {pin}, "value": 1, "timeout": {timeout:.4f}}}',
                )
                if "error" in r:
                    raise ConnectionError(r["error"])
                STATS["leases_written"] += 1
                NEXT_LEASE[0] += 1
                LEASES.setdefault(pin, []).append((NEXT_LEASE[0], r.get("time_received"), timeout))
                if random.random() < 0.05:
                    abort(writer)
                    STATS["killed_with_lease"] += 1
                    await asyncio.sleep(timeout + 0.01)
                    break
                await asyncio.sleep(timeout + 0.005)
                r = await command(reader, writer, f'{{"action": "read_pin", "pin": {pin}}}')
                STATS["read_backs"] += 1
                if r.get("value") != 0:
                    STATS["still_high"] += 1
        except (ConnectionError, OSError, asyncio.TimeoutError):
            STATS["errors"] += 1
            await asyncio.sleep(0.25)


async def churn(deadline):
    while time.monotonic() < deadline:
        try:
            reader, writer = await connect()
            await command(reader, writer, '{"action": "ping"}')
            writer.close()
            STATS["churned"] += 1
        except (ConnectionError, OSError, asyncio.TimeoutError):
            STATS["errors"] += 1
        await asyncio.sleep(random.uniform(0, 0.02))


async def killer(deadline):
    pieces = [
        b'{"action": "write_pin", "pin": ',
        b'{"action": "ping"}\n' * 200,
        b"x\n" * 4096,
        b'{"action": "get_info"}\n{"action": "read_pin", "pin": 2}\n',
    ]
    while time.monotonic() < deadline:
        try:
            _, writer = await connect()
            writer.write(random.choice(pieces))
            await asyncio.sleep(random.uniform(0, 0.05))
            abort(writer)
            STATS["killed"] += 1
        except (ConnectionError, OSError):
            STATS["errors"] += 1
        await asyncio.sleep(random.uniform(0, 0.05))


async def idle_crowd(deadline):
    held = []
    while time.monotonic() < deadline:
        if len(held) < 40 and random.random() < 0.6:
            try:
                held.append((await connect())[1])
                STATS["idle_opened"] += 1
            except ConnectionError:
                STATS["errors"] += 1
        elif held:
            held.pop(random.randrange(len(held))).close()
        await asyncio.sleep(random.uniform(0, 0.2))
    for w in held:
        w.close()


async def rss_sampler(deadline, samples):
    started = time.monotonic()
    while time.monotonic() < deadline:
        samples.append((round(time.monotonic() - started), rss_kib(ARGS.pid)))
        await asyncio.sleep(min(10, max(0.1, deadline - time.monotonic())))
    samples.append((round(time.monotonic() - started), rss_kib(ARGS.pid)))


TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def steal_ticks():
    # /proc/stat "cpu" line: user nice system idle iowait irq softirq steal ...
    with open("/proc/stat") as f:
        return int(f.readline().split()[8])


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def process_counters(pid):
    """piconetd's page faults and its lease thread's context switches."""
    with open(f"/proc/{pid}/stat") as f:
        # comm may hold spaces: the fields after its closing paren are fixed.
        rest = f.read().rsplit(")", 1)[1].split()
    out = {"minflt": int(rest[7]), "majflt": int(rest[9]), "lease_thread": None}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != "piconetd-leases":
                    continue
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                trest = f.read().rsplit(")", 1)[1].split()
            out["lease_thread"] = {
                "tid": int(tid),
                "minflt": int(trest[7]),
                "majflt": int(trest[9]),
                "voluntary_ctxt_switches": int(fields["voluntary_ctxt_switches"]),
                "nonvoluntary_ctxt_switches": int(fields["nonvoluntary_ctxt_switches"]),
            }
        except OSError:
            continue
    return out


async def system_sampler(deadline, started_unix, samples):
    """Every second: the VM's steal time in that second (ms, all CPUs) and the load average."""
    last = steal_ticks()
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        now = steal_ticks()
        samples.append((round(time.time() - started_unix, 2), round((now - last) * TICK_MS), loadavg()[0]))
        last = now


def steal_around(samples, due_s, seen_s):
    """Steal (ms) in the 1 s samples covering due-0.5 s .. seen+0.5 s."""
    lo, hi = due_s - 0.5, seen_s + 0.5
    # A sample at t covers (t-1, t].
    return sum(ms for t, ms, _ in samples if t > lo and t - 1 < hi)


def start_probe(path):
    """The floor probe, SCHED_FIFO if the machine allows it."""
    helpers = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers.py")
    cmd = [sys.executable, helpers, "rtprobe", "--out", path, "--stall-us", str(ARGS.stall_us)]
    fifo = subprocess.run(["chrt", "-f", "10", "true"], capture_output=True).returncode == 0
    return subprocess.Popen((["chrt", "-f", "10"] if fifo else []) + cmd), fifo


def stop_probe(probe, path):
    probe.terminate()
    try:
        probe.wait(timeout=5)
    except subprocess.TimeoutExpired:
        probe.kill()
        probe.wait(timeout=5)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


LATE_LINE = re.compile(r"lease reverted late")
FIELD = re.compile(r"\b(pin|late_us|due_ns|seen_ns)=(\d+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def late_reverts(log_path, started_unix, floor, system):
    """The daemon's late-revert warnings, matched to their leases."""
    found = []
    with open(log_path, errors="replace") as f:
        for line in f:
            line = ANSI.sub("", line)
            if not LATE_LINE.search(line):
                continue
            fields = {k: int(v) for k, v in FIELD.findall(line)}
            if {"pin", "late_us", "due_ns", "seen_ns"} <= fields.keys():
                found.append(fields)
    stalls = (floor or {}).get("stalls", [])
    window = ARGS.stall_window_ms / 1000
    out = []
    for r in sorted(found, key=lambda r: -r["late_us"])[: ARGS.list_late]:
        best = None
        for lease_id, received_ns, timeout in LEASES.get(r["pin"], []):
            if received_ns is None:
                continue
            off = abs(received_ns + timeout * 1e9 - r["due_ns"])
            if best is None or off < best[0]:
                best = (off, lease_id, received_ns, timeout)
        due, seen = r["due_ns"] / 1e9, r["seen_ns"] / 1e9
        near = [late for at, late in stalls if due - window <= at <= seen + window]
        entry = {
            "pin": r["pin"],
            "late_ms": round(r["late_us"] / 1000, 3),
            "due_s": round(due - started_unix, 4),
            "seen_s": round(seen - started_unix, 4),
            "floor_worst_stall_near_us": max(near) if near else 0,
        }
        entry["steal_ms_in_second_around"] = steal_around(system, entry["due_s"], entry["seen_s"])
        # A match is the lease whose deadline is that one (to rounding).
        if best is not None and best[0] < 1e6:
            entry.update(
                {
                    "lease_id": best[1],
                    "timeout_s": best[3],
                    "written_s": round(best[2] / 1e9 - started_unix, 4),
                }
            )
        else:
            entry["lease_id"] = None
        out.append(entry)
    return len(found), out


async def main():
    started = time.monotonic()
    started_unix = time.time()
    deadline = started + ARGS.seconds
    samples = []
    system = []
    counters_start = process_counters(ARGS.pid)
    load_start = loadavg()
    probe_path = tempfile.mktemp(prefix="soak-rtprobe-", suffix=".json")
    probe, fifo = start_probe(probe_path)
    try:
        await run_load(deadline, samples, system, started_unix)
    finally:
        floor = stop_probe(probe, probe_path)
        try:
            os.unlink(probe_path)
        except OSError:
            pass
    machine = {
        "load_start": load_start,
        "load_end": loadavg(),
        "piconetd_start": counters_start,
        "piconetd_end": process_counters(ARGS.pid),
        "samples_t_steal_ms_load1": system,
    }
    return await report(started, started_unix, samples, floor, fifo, machine)


async def run_load(deadline, samples, system, started_unix):
    await asyncio.gather(
        *(lease_client(p, deadline) for p in PINS),
        *(churn(deadline) for _ in range(8)),
        *(killer(deadline) for _ in range(4)),
        idle_crowd(deadline),
        rss_sampler(deadline, samples),
        system_sampler(deadline, started_unix, system),
    )
    await asyncio.sleep(0.5)  # the last leases (<= 200 ms) pass


async def report(started, started_unix, samples, floor, fifo, machine):
    reader, writer = await connect()
    info = (await command(reader, writer, '{"action": "get_info"}'))["info"]
    writer.close()
    reverts = info["lease_reverts"]
    settled = [kib for t, kib in samples if t >= min(60, ARGS.seconds / 2)]
    growth = (settled[-1] - settled[0]) if settled else 0
    checks = {
        "every_lease_reverted": reverts["count"] == STATS["leases_written"],
        "no_pin_found_high": STATS["still_high"] == 0,
        "max_late_within_bound": reverts["late_max_us"] <= ARGS.bound_ms * 1000,
        "rss_flat": growth <= ARGS.rss_growth_kib,
    }
    late = None
    if ARGS.daemon_log:
        logged, worst = late_reverts(ARGS.daemon_log, started_unix, floor, machine["samples_t_steal_ms_load1"])
        late = {"logged_over_1ms": logged, "worst": worst}
    floor_summary = None
    if floor is not None:
        floor_summary = {k: v for k, v in floor.items() if k != "stalls"}
        floor_summary["policy"] = "SCHED_FIFO 10" if fifo else "SCHED_OTHER (no privilege)"
        floor_summary["stalls_over_stall_us"] = len(floor.get("stalls", []))
    print(
        json.dumps(
            {
                "seconds": round(time.monotonic() - started),
                **STATS,
                "lease_reverts": reverts,
                "fifo_floor": floor_summary,
                "late_reverts": late,
                "machine": {
                    **machine,
                    "steal_ms_total": sum(ms for _, ms, _ in machine["samples_t_steal_ms_load1"]),
                    "load1_max": max((l for _, _, l in machine["samples_t_steal_ms_load1"]), default=None),
                },
                "leases_active_at_end": info.get("leases_active"),
                "rss_kib_samples": samples,
                "rss_growth_after_warmup_kib": growth,
                "checks": checks,
            }
        )
    )
    return all(checks.values())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--bound-ms", type=float, default=5)
    parser.add_argument("--rss-growth-kib", type=int, default=1024)
    parser.add_argument("--daemon-log", help="piconetd's stderr, for its late-revert warnings")
    parser.add_argument("--stall-us", type=float, default=1000, help="probe wake-ups later than this are kept")
    parser.add_argument("--stall-window-ms", type=float, default=20, help="probe stalls this near a late revert are listed with it")
    parser.add_argument("--list-late", type=int, default=20, help="late reverts listed, worst first")
    ARGS = parser.parse_args()
    raise SystemExit(0 if asyncio.run(main()) else 1)
