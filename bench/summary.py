"""Markdown summary of bench/results/*.json (bench/run.sh runs it).

Usage: python3 bench/summary.py bench/results > bench/results/summary.md
"""

import json
import pathlib
import sys

NAMES = {"piconetd": "piconetd", "original": "original (Python)", "echo": "bare echo"}


def load(directory):
    results = {}
    for path in sorted(pathlib.Path(directory).glob("*.json")):
        try:
            results[path.stem] = json.loads(path.read_text())
        except ValueError:
            results[path.stem] = {"failed": "unreadable"}
    return results


def fmt(x, digits=0):
    return f"{x:,.{digits}f}"


def main():
    results = load(sys.argv[1] if len(sys.argv) > 1 else "bench/results")
    lines = [
        "| server | transport | connections | pipeline | commands/s | p50 µs | p90 µs | p99 µs | max µs | errors |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]

    def order(name):
        parts = name.split("-")
        pipe = int(parts[3][1:]) if len(parts) > 3 else 1
        return (parts[1] != "plain", pipe, int(parts[2][1:]), list(NAMES).index(parts[0]))

    runs = sorted((n for n in results if n.split("-")[0] in NAMES), key=order)
    for name in runs:
        r = results[name]
        server, transport = name.split("-")[:2]
        if "latency_us" not in r:
            lines.append(f"| {NAMES[server]} | {transport} | {name} | | failed: {r} | | | | | |")
            continue
        l = r["latency_us"]
        errors = r["errors"] + r["failed_connections"]
        lines.append(
            f"| {NAMES[server]} | {'TLS' if r['tls'] else 'plain'} | {r['connections']} | {r['pipeline']} "
            f"| {fmt(r['commands_per_s'])} | {fmt(l['p50'], 1)} | {fmt(l['p90'], 1)} "
            f"| {fmt(l['p99'], 1)} | {fmt(l['max'], 1)} | {errors} |"
        )

    lines += ["", "Goals (piconetd against the bare echo at the same settings, same run):", ""]

    def get(name):
        r = results.get(name)
        return r if r and "latency_us" in r else None

    def check(label, ok, detail):
        lines.append(f"- {label}: {'met' if ok else 'MISSED'} ({detail})")

    for c in (1, 64):
        ours, echo = get(f"piconetd-plain-c{c}"), get(f"echo-plain-c{c}")
        if ours and echo:
            t = ours["commands_per_s"] / echo["commands_per_s"]
            check(f"{c} connection(s), throughput ≥ 90% of echo", t >= 0.9, f"{t:.0%}")
            for p in ("p50", "p99"):
                x = ours["latency_us"][p] / echo["latency_us"][p]
                check(f"{c} connection(s), {p} ≤ 1.1× echo", x <= 1.1, f"{x:.2f}×")
    for c in (1, 64):
        base, piped = get(f"piconetd-plain-c{c}"), get(f"piconetd-plain-c{c}-p16")
        if base and piped:
            x = piped["commands_per_s"] / base["commands_per_s"]
            check(f"--pipeline 16 at {c} connection(s) ≥ 3× unpipelined", x >= 3, f"{x:.1f}×")
    for name, how in (("leases", "default"), ("leases-fifo", "lease thread SCHED_FIFO")):
        leases = results.get(name)
        if leases:
            lr = leases["lease_reverts"]
            check(
                f"lease revert lateness p99 ≤ 1 ms under load ({how})",
                lr["late_p99_us"] <= 1000,
                f"{lr['count']:,} reverts, p50 {lr['late_p50_us']} µs, p99 {lr['late_p99_us']} µs, "
                f"max {lr['late_max_us']} µs, {leases['seconds']} s",
            )
    for kind in ("plain", "tls"):
        m = results.get(f"memory-{kind}")
        if m:
            lines.append(
                f"- memory per {'TLS' if m['tls'] else 'idle plaintext'} connection: "
                f"{fmt(m['per_connection_bytes'] / 1024, 1)} KiB "
                f"({m['connections']} connections, VmRSS {fmt(m['rss_before_kib'])} → "
                f"{fmt(m['rss_after_kib'])} KiB)"
            )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
