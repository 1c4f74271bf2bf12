"""piconet: drive piconet boards from Python.

A :class:`Board` keeps one connection to a board (the Pico W firmware,
``piconetd``, or the original piconetcontrol server) and has every action
as a method. The network, TLS (verified against a CA file, or pinned on
first use) and the line framing are the Rust client's, in the extension
module ``piconet._piconet``; no call holds the GIL while it waits.

>>> from piconet import Board
>>> with Board("pico.lan", tls=True) as board:          # doctest: +SKIP
...     board.setup_pin(2, "output", value=0)
...     board.write_pin(2, 1, timeout=5)
...     for edge in board.watch(5, edge="falling"):
...         print(edge.pin, edge.value)

The gpiozero pin factory is :class:`piconet.gpiozero.PiconetFactory`.
"""

import threading
import traceback
from typing import Callable, Iterable, Iterator, Optional, Union

from . import errors
from ._piconet import (
    DEFAULT_PORT,
    DEFAULT_TIMEOUT,
    MAX_LEASE,
    EdgeEvent,
    OverflowEvent,
)
from ._piconet import Board as _Board
from .errors import (
    BoardOSError,
    BusyError,
    CertificateError,
    HostKeyChangedError,
    InvalidArgumentError,
    InvalidRequestError,
    MissingActionError,
    PiconetError,
    PinNotSetupError,
    ProtocolError,
    ServerError,
    ServerTimeoutError,
    TLSConfigError,
    TLSError,
)

__all__ = [
    "Board",
    "Watch",
    "Event",
    "EdgeEvent",
    "OverflowEvent",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT",
    "MAX_LEASE",
    "errors",
    "PiconetError",
    "ServerError",
    "PinNotSetupError",
    "InvalidRequestError",
    "MissingActionError",
    "BoardOSError",
    "ServerTimeoutError",
    "BusyError",
    "InvalidArgumentError",
    "TLSError",
    "CertificateError",
    "HostKeyChangedError",
    "TLSConfigError",
    "ProtocolError",
]
# Named like built-ins (and derived from them): reached as piconet.errors.X
# or piconet.X, but not star-imported over the built-ins.
ConnectionError = errors.ConnectionError
TimeoutError = errors.TimeoutError
PermissionError = errors.PermissionError

Event = Union[EdgeEvent, OverflowEvent]
"""What a watch yields: an edge, or a count of edges that were lost."""

__version__ = "0.1.0"


class Board(_Board):
    """A piconet board reached over one connection; see ``_piconet.Board``
    for every action. A context manager: ``with Board(...) as b:`` connects
    on entry and closes on exit (ending its ``release_on_disconnect`` leases)."""

    def __enter__(self) -> "Board":
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def watch(
        self,
        pins: Union[int, Iterable[int]],
        edge: str = "both",
        debounce_ms: int = 0,
        callback: Optional[Callable[[Event], object]] = None,
    ) -> "Watch":
        """Watches input pin(s) on a connection of its own.

        Without ``callback``: the :class:`Watch` is an iterator of events.
        With ``callback``: a thread calls ``callback(event)`` for each until
        the watch is closed. Set the pins up as inputs first.
        """
        return Watch(self, pins, edge=edge, debounce_ms=debounce_ms, callback=callback)


class Watch:
    """Events of some input pins, on a connection of their own (a board
    ends a connection's watches with it). Iterate it, or give a callback;
    ``close()`` (or leaving a ``with`` block) ends it. Send nothing for
    ``--idle-timeout-secs`` and piconetd closes it: :meth:`ping` now and then
    (a callback watch does so itself)."""

    def __init__(
        self,
        board: _Board,
        pins: Union[int, Iterable[int]],
        edge: str = "both",
        debounce_ms: int = 0,
        callback: Optional[Callable[[Event], object]] = None,
        keepalive: float = 10.0,
    ) -> None:
        self._conn = board._another()
        self._pins = [pins] if isinstance(pins, int) else list(pins)
        self._keepalive = keepalive
        self.error: Optional[BaseException] = None
        """What ended a callback watch, if not close()."""
        try:
            for pin in self._pins:
                self._conn.watch_pin(pin, edge=edge, debounce_ms=debounce_ms)
        except BaseException:
            self._conn.close()
            raise
        self._thread: Optional[threading.Thread] = None
        if callback is not None:
            self._thread = threading.Thread(
                target=self._run, args=(callback,), name=f"piconet-watch-{self._pins}", daemon=True
            )
            self._thread.start()

    @property
    def pins(self) -> "list[int]":
        """The pins watched."""
        return list(self._pins)

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._conn.closed

    def add(self, pin: int, edge: str = "both", debounce_ms: int = 0) -> None:
        """Watches one more pin (or the same one with new settings)."""
        self._conn.watch_pin(pin, edge=edge, debounce_ms=debounce_ms)
        if pin not in self._pins:
            self._pins.append(pin)

    def remove(self, pin: int) -> None:
        """Stops watching ``pin`` (events already sent still come)."""
        self._conn.unwatch_pin(pin)
        self._pins.remove(pin)

    def ping(self) -> None:
        """One ping on the watch's connection, so the board does not close it as idle."""
        self._conn.ping()

    def next(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, waiting at most ``timeout`` seconds (None: until
        one comes); None when the time is up or the watch is closed."""
        return self._conn.next_event(timeout)

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        while True:
            event = self._conn.next_event(self._keepalive)
            if event is not None:
                return event
            if self._conn.closed:
                raise StopIteration
            self._conn.ping()

    def _run(self, callback: Callable[[Event], object]) -> None:
        try:
            for event in self:
                try:
                    callback(event)
                except Exception:
                    # As gpiozero's callbacks: report, keep watching.
                    traceback.print_exc()
        except BaseException as e:
            if not self._conn.closed:
                self.error = e
                traceback.print_exc()

    def close(self) -> None:
        """Ends the watch and its connection (and the callback thread)."""
        self._conn.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Watch {self._conn.address} pins={self._pins}{' closed' if self.closed else ''}>"
