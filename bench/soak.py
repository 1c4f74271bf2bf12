"""Soak test for piconetd (bench/soak.sh runs it; benchmark-only, loopback only).

  python3 bench/soak.py --port PORT --pid PID --seconds 600 [--bound-ms 5]

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
"""

import argparse
import asyncio
import json
import random
import socket
import struct
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
                timeout = random.uniform(0.010, 0.200)
                r = await command(
                    reader,
                    writer,
                    f'{{"action": "write_pin", "pin": {pin}, "value": 1, "timeout": {timeout:.4f}}}',
                )
                if "error" in r:
                    raise ConnectionError(r["error"])
                STATS["leases_written"] += 1
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


async def main():
    started = time.monotonic()
    deadline = started + ARGS.seconds
    samples = []
    await asyncio.gather(
        *(lease_client(p, deadline) for p in PINS),
        *(churn(deadline) for _ in range(8)),
        *(killer(deadline) for _ in range(4)),
        idle_crowd(deadline),
        rss_sampler(deadline, samples),
    )
    await asyncio.sleep(0.5)  # the last leases (<= 200 ms) pass
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
    print(
        json.dumps(
            {
                "seconds": round(time.monotonic() - started),
                **STATS,
                "lease_reverts": reverts,
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
    ARGS = parser.parse_args()
    raise SystemExit(0 if asyncio.run(main()) else 1)
