"""piconetd on the simulated board, for the package's tests.

PICONETD names the binary (scripts/test.sh sets it); else
$CARGO_TARGET_DIR/debug/piconetd or target/debug/piconetd. Every daemon a
test starts is killed when it ends, whatever happened.
"""

import os
import pathlib
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def piconetd_path() -> str:
    if os.environ.get("PICONETD"):
        return os.environ["PICONETD"]
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return str(target / "debug" / "piconetd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """One piconetd process on 127.0.0.1:<port>."""

    def __init__(self, *args: str, port: int = 0, mdns: bool = False) -> None:
        # Announced over mDNS only for the discovery test.
        self.args = list(args) if mdns else ["--no-mdns", *args]
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [piconetd_path(), "--listen", self.address, *self.args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"piconetd exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"piconetd did not listen on {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def daemon():
    d = Daemon()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def own_daemon():
    """A daemon for one test (resets, restarts)."""
    d = Daemon()
    try:
        yield d
    finally:
        d.stop()


def eventually(check, timeout: float = 5.0, what: str = "the condition"):
    """Polls `check()` until it is truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s")
        time.sleep(0.02)
