"""Helpers for bench/run.sh (benchmark-only, not part of the product).

  python3 bench/helpers.py memory --pid PID --port PORT -n 1000 [--tls]
      Opens N connections to the server (each answers one ping, so it is
      fully set up, TLS handshake included), and prints its VmRSS growth
      per connection as JSON.

  python3 bench/helpers.py leases --port PORT -n 10000
      Drives N leases to expire on the 26 usable pins of a piconetd: each
      pin is set up as an output at 0, then written 1 with a timeout of
      10-50 ms, and written again only after that timeout has passed. Then
      prints get_info's `lease_reverts` (the engine's lateness figures).
      --tls: over TLS (certificate not verified: a local benchmark server).

  python3 bench/helpers.py flood --port PORT --kind KIND [--tls]
      Loads the server until killed (or --seconds): `valid` 32 connections
      each writing 64 pings per write and reading the answers; `invalid`
      32 connections each writing `x\n` x 4096 per write (every line an
      error answer) and reading what comes back; `connect` 32 tasks
      opening and closing connections as fast as they can; `tls` 16 tasks
      doing full TLS handshakes, one ping, close.

  chrt -f 10 python3 bench/helpers.py rtprobe --out FILE [--stall-us 1000]
      The machine's own floor for real-time wake-ups: sleeps 10 ms at a
      time until SIGTERM, then writes the oversleep p50/p99/max (µs) as
      JSON to FILE, and `stalls`: each wake-up more than --stall-us late
      as [UNIX time it was due (s), µs late] (the first 10,000), so a late
      lease revert can be set beside what the machine did at that moment.
      Nothing of piconetd is involved: on a shared VM the hypervisor's
      scheduling alone makes a SCHED_FIFO thread late.

  python3 bench/helpers.py busy
      One ordinary (SCHED_OTHER) process spinning on a CPU, as "other
      programs on the Raspberry Pi".

Only loopback addresses are used.
"""

import argparse
import asyncio
import json
import random
import ssl
import time

HOST = "127.0.0.1"
PINS = list(range(0, 23)) + [26, 27, 28]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def tls_context(tls):
    if not tls:
        return None
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # a local benchmark server
    return ctx


async def command(reader, writer, line):
    writer.write(line.encode() + b"\n")
    await writer.drain()
    answer = await reader.readline()
    if not answer:
        raise RuntimeError(f"connection closed after {line}")
    value = json.loads(answer)
    if "error" in value:
        raise RuntimeError(f"{line} -> {answer!r}")
    return value


async def open_pinged(port, ctx):
    reader, writer = await asyncio.open_connection(HOST, port, ssl=ctx)
    await command(reader, writer, '{"action": "ping"}')
    return reader, writer


async def memory(args):
    ctx = tls_context(args.tls)
    # A few connections first, so one-off allocations are in the baseline.
    warm = [await open_pinged(args.port, ctx) for _ in range(4)]
    await asyncio.sleep(0.5)
    before = rss_kib(args.pid)
    conns = []
    while len(conns) < args.n:
        batch = min(50, args.n - len(conns))
        conns += await asyncio.gather(*(open_pinged(args.port, ctx) for _ in range(batch)))
    await asyncio.sleep(1.0)
    after = rss_kib(args.pid)
    print(
        json.dumps(
            {
                "tls": args.tls,
                "connections": args.n,
                "rss_before_kib": before,
                "rss_after_kib": after,
                "per_connection_bytes": round((after - before) * 1024 / args.n),
            }
        )
    )
    for _, writer in conns + warm:
        writer.close()


async def leases(args):
    done = 0
    started = time.monotonic()
    ctx = tls_context(args.tls)

    async def pin_loop(pin):
        nonlocal done
        reader, writer = await asyncio.open_connection(HOST, args.port, ssl=ctx)
        await command(
            reader, writer, f'{{"action": "setup_pin", "pin": {pin}, "mode": "output", "value": 0}}'
        )
        while done < args.n:
            timeout = random.uniform(0.010, 0.050)
            await command(
                reader,
                writer,
                f'{{"action": "write_pin", "pin": {pin}, "value": 1, "timeout": {timeout:.4f}}}',
            )
            done += 1
            # Write again only once this lease has expired (and reverted).
            await asyncio.sleep(timeout + 0.003)
        writer.close()

    await asyncio.gather(*(pin_loop(p) for p in PINS))
    await asyncio.sleep(0.1)
    reader, writer = await asyncio.open_connection(HOST, args.port, ssl=ctx)
    info = (await command(reader, writer, '{"action": "get_info"}'))["info"]
    writer.close()
    print(
        json.dumps(
            {
                "leases_written": done,
                "seconds": round(time.monotonic() - started, 1),
                "lease_reverts": info["lease_reverts"],
            }
        )
    )


async def drain(reader):
    while await reader.read(65536):
        pass


async def flood(args):
    ctx = tls_context(args.tls or args.kind == "tls")
    until = time.monotonic() + args.seconds

    async def pipelined(payload):
        # Refused or closed connections are retried: the flood goes on.
        while time.monotonic() < until:
            try:
                reader, writer = await asyncio.open_connection(HOST, args.port, ssl=ctx)
                reading = asyncio.ensure_future(drain(reader))
                while time.monotonic() < until and not reading.done():
                    writer.write(payload)
                    await writer.drain()
                writer.close()
                reading.cancel()
            except (OSError, ssl.SSLError):
                await asyncio.sleep(0.01)

    async def churn():
        while time.monotonic() < until:
            try:
                reader, writer = await asyncio.open_connection(HOST, args.port, ssl=ctx)
                if ctx is not None:
                    writer.write(b'{"action": "ping"}\n')
                    await reader.readline()
                writer.close()
            except (OSError, ssl.SSLError):
                await asyncio.sleep(0.01)

    if args.kind == "valid":
        tasks = [pipelined(b'{"action": "ping"}\n' * 64) for _ in range(32)]
    elif args.kind == "invalid":
        tasks = [pipelined(b"x\n" * 4096) for _ in range(32)]
    elif args.kind == "connect":
        tasks = [churn() for _ in range(32)]
    else:
        tasks = [churn() for _ in range(16)]
    await asyncio.gather(*tasks)


def rtprobe(args):
    import signal

    lates = []
    stalls = []
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        t = time.monotonic()
        due = time.time() + 0.010
        time.sleep(0.010)
        late = (time.monotonic() - t - 0.010) * 1e6
        lates.append(late)
        if late > args.stall_us and len(stalls) < 10_000:
            stalls.append([round(due, 6), round(late)])
    lates.sort()
    n = len(lates)
    with open(args.out, "w") as f:
        json.dump(
            {
                "samples": n,
                "late_p50_us": round(lates[n // 2]) if n else None,
                "late_p99_us": round(lates[int(n * 0.99)]) if n else None,
                "late_max_us": round(lates[-1]) if n else None,
                "stall_us": args.stall_us,
                "stalls": stalls,
            },
            f,
        )


def busy():
    while True:
        pass


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--pid", type=int, required=True)
    m.add_argument("--port", type=int, required=True)
    m.add_argument("-n", type=int, default=1000)
    m.add_argument("--tls", action="store_true")
    l = sub.add_parser("leases")
    l.add_argument("--port", type=int, required=True)
    l.add_argument("-n", type=int, default=10000)
    l.add_argument("--tls", action="store_true")
    f = sub.add_parser("flood")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--kind", choices=["valid", "invalid", "connect", "tls"], required=True)
    f.add_argument("--tls", action="store_true")
    f.add_argument("--seconds", type=float, default=600)
    sub.add_parser("busy")
    r = sub.add_parser("rtprobe")
    r.add_argument("--out", required=True)
    r.add_argument("--stall-us", type=float, default=1000)
    args = parser.parse_args()
    if args.what == "busy":
        busy()
    elif args.what == "rtprobe":
        rtprobe(args)
    elif args.what == "flood":
        asyncio.run(flood(args))
    else:
        asyncio.run(memory(args) if args.what == "memory" else leases(args))


if __name__ == "__main__":
    main()
