"""Type stubs of the extension module piconet._piconet (the Rust client)."""

import os
from typing import Any, Dict, List, Optional, Tuple, Union

DEFAULT_PORT: int
"""The port piconet boards listen on by default (12345)."""
DEFAULT_TIMEOUT: float
"""Seconds allowed to connect, and to each command (3.0)."""
MAX_LEASE: float
"""What write_pin(timeout=None) asks for: 24 h, piconetd's default maximum."""

_Path = Union[str, "os.PathLike[str]"]
_Level = Union[int, bool]

class EdgeEvent:
    """An edge on a watched input pin."""

    @property
    def pin(self) -> int: ...
    @property
    def value(self) -> int:
        """The pin's level after the edge, 0 or 1."""
    @property
    def time_us(self) -> int:
        """The board's monotonic clock when the edge happened, µs."""
    @property
    def seq(self) -> int:
        """This connection's edge count, from 1."""

class OverflowEvent:
    """``dropped`` edges did not fit the queue; the last of them was ``seq``."""

    @property
    def dropped(self) -> int: ...
    @property
    def seq(self) -> int: ...

class Board:
    """A piconet board reached over one connection, opened on first use and
    again after it broke. Every wait releases the GIL."""

    def __init__(
        self,
        address: str,
        *,
        tls: bool = False,
        ca: Optional[_Path] = None,
        insecure: bool = False,
        known_hosts: Optional[_Path] = None,
        identity: Optional[Tuple[_Path, _Path]] = None,
        timeout: float = 3.0,
        tls12: bool = False,
    ) -> None:
        """``address``: ``host``, ``host:port``, ``[v6]:port`` or a serial
        port (``/dev/ttyACM0``). TLS: ``ca`` trusts that CA or certificate
        file; ``insecure=True`` encrypts without verifying; ``tls=True``
        pins the certificate on first use in ``known_hosts``.
        ``identity=(cert, key)``: the client certificate for a board with a
        client list (implies TLS). ``tls12=True`` offers TLS 1.2 only
        (implies TLS): a Pico W resumes it in 15 ms rather than 482 ms, and
        the client certificate crosses the network in the clear."""
    @property
    def address(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    @property
    def connected(self) -> bool: ...
    @property
    def connections(self) -> int:
        """Connections opened so far (one more after each reconnection)."""
    def _another(self) -> "Board": ...
    def connect(self) -> None:
        """Opens the connection now if it is not open."""
    def close(self) -> None:
        """Closes the connection (ending its release_on_disconnect leases and watches)."""
    def ping(self, count: int = 1) -> Dict[str, Any]:
        """``{"count", "round_trip": {"min_ns", "avg_ns", "max_ns"}, "to_server": {...}}``."""
    def get_version(self) -> str: ...
    def get_info(self) -> Dict[str, Any]: ...
    def list_actions(self) -> List[str]: ...
    def get_pins(self) -> List[Dict[str, Any]]:
        """Every configured pin: ``pin``, ``mode``, ``level``, ``safe``, ``lease_ms``, ``pull``, ``watched``."""
    def setup_pin(
        self,
        pin: int,
        mode: str,
        value: Optional[_Level] = None,
        pull: Optional[str] = None,
        frequency: Optional[int] = None,
        duty: Optional[float] = None,
    ) -> Dict[str, Any]:
        """``mode``: "input" (``pull`` "up"/"down"/"none"), "output"
        (``value`` is also its safe state), "pwm" (``frequency`` Hz, safe
        ``duty`` 0.0-1.0) or "adc" (GPIO 26-28)."""
    def write_pwm(
        self,
        pin: int,
        duty: float,
        timeout: Optional[float] = None,
        frequency: Optional[int] = None,
        release_on_disconnect: bool = False,
    ) -> Dict[str, Any]:
        """Drives a PWM pin at ``duty`` for ``timeout`` s (None: MAX_LEASE),
        then it returns to its safe duty and frequency."""
    def read_adc(self, pin: int) -> Dict[str, Any]:
        """``{"raw": 0-4095, "volts": float}``."""
    def read_temperature(self) -> float:
        """°C."""
    def i2c_setup(self, bus: int, sda: int, scl: int, frequency: int = 100000) -> Dict[str, Any]:
        """Bus ``bus`` (0 or 1) on a pin pair the RP2040 allows, 10 kHz-1 MHz."""
    def i2c_write(self, bus: int, address: int, data: bytes) -> Dict[str, Any]:
        """1-256 bytes to the device at ``address`` (0-127)."""
    def i2c_read(self, bus: int, address: int, count: int) -> bytes:
        """``count`` (1-256) bytes from the device at ``address``."""
    def i2c_transfer(self, bus: int, address: int, write: bytes, count: int) -> bytes:
        """Writes ``write``, then reads ``count`` bytes after a repeated start."""
    def i2c_scan(self, bus: int) -> List[int]:
        """Addresses 0x08-0x77 that answer a one-byte read."""
    def write_pin(
        self,
        pin: int,
        value: _Level,
        timeout: Optional[float] = None,
        release_on_disconnect: bool = False,
    ) -> Dict[str, Any]:
        """Drives an output for ``timeout`` s (None: MAX_LEASE), then the
        board puts it back to its safe state; ``release_on_disconnect``
        also when this connection ends."""
    def read_pin(self, pin: int) -> int: ...
    def reset(self) -> Dict[str, Any]: ...
    def sleep(self, time_ms: int, deep: bool = False) -> Dict[str, Any]: ...
    def watch_pin(self, pin: int, edge: str = "both", debounce_ms: int = 0) -> Dict[str, Any]:
        """Events on this connection for ``edge`` ("both", "rising", "falling") of input ``pin``."""
    def unwatch_pin(self, pin: int) -> Dict[str, Any]: ...
    def sim_input(
        self, pin: int, value: Optional[_Level] = None, volts: Optional[float] = None
    ) -> Dict[str, Any]:
        """Simulated boards only: the level applied to input ``pin`` from
        outside, or the voltage on ADC ``pin``."""
    def get_config(self) -> Dict[str, Any]:
        """The stored settings: ``ssid``, ``password_set``, ``port``,
        ``tls_fingerprint``, ``name``, ``radio_power``, ``restart_needed``
        (no secrets)."""
    def set_wifi(self, ssid: str, password: str) -> Dict[str, Any]:
        """Stores the WiFi network ("" password: open); USB only, applies at the next reset."""
    def set_port(self, port: int) -> Dict[str, Any]:
        """Stores the TCP port; USB only, applies at the next reset."""
    def set_name(self, name: str) -> Dict[str, Any]:
        """Stores the board's name (NAME.local; 1-32 of a-z, 0-9, -); USB only.
        A bad name raises ValueError before anything is sent."""
    def set_radio_power(self, mode: str) -> Dict[str, Any]:
        """Stores the radio's power mode: ``none`` (default, lowest latency),
        ``performance``, ``power_save`` or ``aggressive`` (least current); USB
        only, applies at the next reset. Another mode raises ValueError
        before anything is sent."""
    def set_tls(self, cert: bytes, key: bytes) -> Dict[str, Any]:
        """Stores the TLS certificate and private key (DER); USB only."""
    def clear_tls(self) -> Dict[str, Any]:
        """Erases the stored certificate and key; USB only."""
    def clear_config(self) -> Dict[str, Any]:
        """Erases every stored setting; USB only."""
    def get_clients(self) -> List[Dict[str, Any]]:
        """The client list: ``name``, ``sha256`` (hex), ``role``, ``pins`` (None: all)."""
    def set_clients(self, clients: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Replaces the client list (dicts of ``name``, ``sha256``, ``role``,
        optional ``pins``); the first list over USB only, then by an admin."""
    def update(
        self,
        image: Union[bytes, _Path],
        signature: bytes,
        version: Optional[str] = None,
        allow_downgrade: bool = False,
    ) -> Dict[str, Any]:
        """Uploads a whole signed image (bytes or a file), resuming an
        upload of the same image; ``signature``: ed25519 (64 bytes) of its
        SHA-512 digest. The final update status; the board swaps it in at
        its next reset."""
    def update_status(self) -> Dict[str, Any]:
        """``state``, ``size``, ``next_offset``, ``sha256``, ``version``, ``running_version``, ``last``."""
    def update_begin(
        self,
        size: int,
        sha256: bytes,
        signature: bytes,
        version: Optional[str] = None,
        allow_downgrade: bool = False,
    ) -> Dict[str, Any]:
        """Announces a signed image (``sha256`` 32 bytes, ed25519 ``signature`` 64 bytes)."""
    def update_chunk(self, offset: int, data: bytes) -> Dict[str, Any]:
        """Image bytes at ``offset`` (at most 1024)."""
    def update_finish(self) -> Dict[str, Any]:
        """Verifies the image; the board swaps it in at its next reset."""
    def request(self, command: Dict[str, Any]) -> Dict[str, Any]:
        """Any command (a dict with an ``action``); its answer."""
    @staticmethod
    def discover(timeout: float = 3.0) -> List[Dict[str, Any]]:
        """Boards answering an mDNS browse for _piconet._tcp within ``timeout``
        s (at most 60): ``name``, ``host``, ``addresses``, ``port``, ``api``,
        ``fw``, ``id``, ``tls``, ``auth``, and ``address`` for ``Board(...)``."""
    def next_event(self, timeout: Optional[float] = None) -> Optional[Union[EdgeEvent, OverflowEvent]]:
        """The next event of this connection, or None when ``timeout`` passed or the board was closed."""
