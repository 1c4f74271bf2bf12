"""A gpiozero pin factory for piconet boards.

``GPIOZERO_PIN_FACTORY=piconet PICONET_HOST=pico.lan python script.py`` (the
``gpiozero_pin_factories`` entry point), or explicitly::

    from gpiozero import LED
    from piconet.gpiozero import PiconetFactory
    led = LED(15, pin_factory=PiconetFactory(host="pico.lan"))

Unlike a local pin, a remote output must not stay on when the script that
drove it dies or the network drops. Every write is a ``write_pin`` lease
with ``release_on_disconnect``, and a background thread renews the leases
of outputs away from their safe state every third of ``lease`` seconds:
when the script is killed its connection closes and the board puts the
pins back at once; when the network goes, within ``lease`` seconds. An
output's safe state is the state its device was created in (``LED``,
``DigitalOutputDevice``: off). After a reconnection (the board reset, the
WiFi came back) every pin's setup, held level and watch is applied again.

Inputs get their edges from ``watch_pin`` on a connection of their own
(``Button.when_pressed``, ``when_changed``...), debounced on the board
(``bounce_time`` up to 1 s). Pins are named as on the Pico W: ``15``,
``"GP15"``, ``"GPIO15"``, ``"BOARD20"`` or ``"J1:20"`` (physical pin 20),
``"ADC0"`` for GP26. GP23-25 and GP29 drive the WiFi chip and are not
offered.

Environment (when the factory is made without arguments): ``PICONET_HOST``
(required), ``PICONET_CA`` (a CA or certificate file: TLS, verified),
``PICONET_TLS=1`` (TLS, certificate pinned on first use),
``PICONET_INSECURE=1`` (TLS, unverified), ``PICONET_CERT`` and
``PICONET_KEY`` (this client's certificate and key, for a board with a
client list), ``PICONET_LEASE`` (seconds,
default 3), ``PICONET_TIMEOUT`` (seconds per command, default 3).
"""

import os
import sys
import threading
import time
import warnings
from typing import Dict, Optional, Set, Tuple, Union

from gpiozero.exc import (
    BadPinFactory,
    PinInvalidBounce,
    PinInvalidEdges,
    PinInvalidFunction,
    PinInvalidPull,
    PinInvalidState,
    PinPWMUnsupported,
    PinSetInput,
    PinSPIUnsupported,
)
from gpiozero.pins import BoardInfo, HeaderInfo, PinInfo
from gpiozero.pins.pi import PiFactory, PiPin

from . import Board, EdgeEvent, OverflowEvent, Watch
from .errors import ConnectionError as _ConnectionError
from .errors import PiconetError
from .errors import TimeoutError as _TimeoutError

__all__ = ["PiconetFactory", "PiconetPin", "PICO_W"]

#: Longest debounce a board applies (watch_pin's debounce_ms, 0-1000).
MAX_BOUNCE = 1.0

_PULLS = {"up": "up", "down": "down", "floating": "none"}
_EDGES = ("both", "rising", "falling", "none")

# The Pico W's 40 pins, 1-20 down the left side, 21-40 up the right.
_PICO_W_PINOUT = {
    1: "GP0", 2: "GP1", 3: "GND", 4: "GP2", 5: "GP3", 6: "GP4", 7: "GP5", 8: "GND",
    9: "GP6", 10: "GP7", 11: "GP8", 12: "GP9", 13: "GND", 14: "GP10", 15: "GP11",
    16: "GP12", 17: "GP13", 18: "GND", 19: "GP14", 20: "GP15", 21: "GP16",
    22: "GP17", 23: "GND", 24: "GP18", 25: "GP19", 26: "GP20", 27: "GP21",
    28: "GND", 29: "GP22", 30: "RUN", 31: "GP26", 32: "GP27", 33: "AGND",
    34: "GP28", 35: "ADC_VREF", 36: "3V3", 37: "3V3_EN", 38: "GND", 39: "VSYS",
    40: "VBUS",
}
_ADC = {26: 0, 27: 1, 28: 2}

_BOARD_ART = """\
        ---usb---
GP0   1|o       o|40 VBUS
GP1   2|o       o|39 VSYS
GND   3|o       o|38 GND
GP2   4|o       o|37 3V3_EN
GP3   5|o       o|36 3V3
GP4   6|o       o|35 ADC_VREF
GP5   7|o       o|34 GP28
GND   8|o       o|33 AGND
GP6   9|o       o|32 GP27
GP7  10|o       o|31 GP26
GP8  11|o       o|30 RUN
GP9  12|o       o|29 GP22
GND  13|o       o|28 GND
GP10 14|o       o|27 GP21
GP11 15|o       o|26 GP20
GP12 16|o       o|25 GP19
GP13 17|o       o|24 GP18
GND  18|o       o|23 GND
GP14 19|o       o|22 GP17
GP15 20|o       o|21 GP16
        ---------
"""


def _pin_info(number: int, label: str) -> PinInfo:
    row, col = (number, 1) if number <= 20 else (41 - number, 2)
    # gpiozero looks names up as given: the integer 15 as well as "15".
    names: Set[Union[int, str]] = {label, f"J1:{number}", f"BOARD{number}"}
    if label.startswith("GP"):
        gpio = int(label[2:])
        name = f"GPIO{gpio}"
        names |= {name, gpio, str(gpio)}
        interfaces = {"gpio"}
        if gpio in _ADC:
            names.add(f"ADC{_ADC[gpio]}")
            interfaces.add("adc")
    else:
        name = label
        interfaces = {""}
    return PinInfo(
        number=number, name=name, names=frozenset(names), pull="",
        row=row, col=col, interfaces=frozenset(interfaces),
    )


class PicoBoardInfo(BoardInfo):
    """gpiozero's board information for a Raspberry Pi Pico W."""

    __slots__ = ()

    @property
    def description(self) -> str:
        return f"Raspberry Pi {self.model} (piconet)"


PICO_W = PicoBoardInfo(
    revision="picow", model="Pico W", pcb_revision="1", released="2022Q2",
    soc="RP2040", manufacturer="Raspberry Pi", memory=0, storage="2MB flash",
    usb=1, usb3=0, ethernet=0, eth_speed=0, wifi=True, bluetooth=True, csi=0, dsi=0,
    headers={"J1": HeaderInfo(
        name="J1", rows=20, columns=2,
        pins={n: _pin_info(n, label) for n, label in _PICO_W_PINOUT.items()},
    )},
    board=_BOARD_ART,
)
"""The Pico W's header, for gpiozero's pin names and ``pinout``."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class PiconetFactory(PiFactory):
    """Pins of a piconet board, for gpiozero.

    ``host`` is ``host[:port]`` (default ``$PICONET_HOST``); ``ca``,
    ``tls``, ``insecure``, ``identity`` and ``timeout`` are
    :class:`piconet.Board`'s.
    ``lease`` is how long a driven output holds if this process stops
    renewing it (the network dropped); killed, its pins revert at once.
    Connects in the constructor, so a wrong address fails there.
    """

    def __init__(
        self,
        host: Optional[str] = None,
        *,
        ca: Optional[str] = None,
        tls: Optional[bool] = None,
        insecure: Optional[bool] = None,
        timeout: Optional[float] = None,
        lease: Optional[float] = None,
        identity: Optional[Tuple[str, str]] = None,
    ) -> None:
        super().__init__()
        host = host or os.environ.get("PICONET_HOST")
        if not host:
            raise BadPinFactory(
                "PiconetFactory needs the board's address: PiconetFactory(host='pico.lan') "
                "or PICONET_HOST=pico.lan"
            )
        ca = ca or os.environ.get("PICONET_CA") or None
        tls = _env_flag("PICONET_TLS") if tls is None else tls
        insecure = _env_flag("PICONET_INSECURE") if insecure is None else insecure
        timeout = float(os.environ.get("PICONET_TIMEOUT", "3")) if timeout is None else timeout
        lease = float(os.environ.get("PICONET_LEASE", "3")) if lease is None else lease
        if not lease > 0:
            raise ValueError(f"lease is a number of seconds above 0, not {lease}")
        self.pin_class = PiconetPin
        self._info = PICO_W
        self.lease = lease
        if identity is None and os.environ.get("PICONET_CERT"):
            identity = (os.environ["PICONET_CERT"], os.environ.get("PICONET_KEY", ""))
        self.board = Board(host, ca=ca, tls=tls, insecure=insecure, identity=identity,
                           timeout=timeout)
        self.board.connect()
        self.actions = frozenset(self.board.list_actions())
        # One lock for the command connection's state: configuration,
        # leases and re-applying them after a reconnection.
        self._lock = threading.RLock()
        self._applied = self.board.connections
        self._watch: Optional[Watch] = None
        self._watched: Dict[int, "PiconetPin"] = {}
        self._offset_us: Optional[int] = None
        self._stop = threading.Event()
        self._failing = False
        self._renewer = threading.Thread(target=self._renew_loop, name="piconet-leases", daemon=True)
        self._renewer.start()
        self._dispatcher: Optional[threading.Thread] = None

    # -- gpiozero's Factory interface -----------------------------------

    def close(self) -> None:
        self._stop.set()
        super().close()  # every pin back to its safe state
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()
        for thread in (self._renewer, self._dispatcher):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
        self.board.close()

    def ticks(self) -> int:
        """Microseconds on the host's monotonic clock; edge events are
        mapped onto it from the board's clock."""
        return time.monotonic_ns() // 1000

    def ticks_diff(self, later: int, earlier: int) -> float:
        return max(0, later - earlier) / 1_000_000

    def spi(self, **spi_args):  # type: ignore[override]
        raise PinSPIUnsupported("SPI is not offered by piconet boards")

    def _get_board_info(self) -> BoardInfo:
        return self._info

    # -- the command connection -----------------------------------------

    def _call(self, method: str, *args, **kwargs):
        """``board.<method>(...)``, reconnecting once if the connection broke,
        with every pin's setup and lease applied again on a new connection."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    self.board.connect()
                    if self.board.connections != self._applied:
                        self._reapply()
                    return getattr(self.board, method)(*args, **kwargs)
                except (_ConnectionError, _TimeoutError):
                    if attempt == 2 or self._stop.is_set():
                        raise

    def _reapply(self) -> None:
        self._applied = self.board.connections
        for pin in list(self.pins.values()):
            if not pin._configured:
                continue
            pin._apply()
            if pin._held is not None:
                pin._renew(self.board.write_pin, self.board.write_pwm)

    def _write(self, pin: "PiconetPin", level: float) -> None:
        with self._lock:
            if pin._frequency is None:
                self._call("write_pin", pin._gpio, int(level), timeout=self.lease,
                           release_on_disconnect=True)
            else:
                self._call("write_pwm", pin._gpio, float(level), timeout=self.lease,
                           release_on_disconnect=True)
            pin._held = None if level == pin._safe else level

    def _renew_loop(self) -> None:
        period = self.lease / 3
        while not self._stop.wait(period):
            try:
                with self._lock:
                    held = [p for p in self.pins.values() if p._held is not None]
                    for pin in held:
                        pin._renew(lambda *a, **k: self._call("write_pin", *a, **k),
                                   lambda *a, **k: self._call("write_pwm", *a, **k))
                    if not held:
                        self._call("ping")
                watch = self._watch
                if watch is not None:
                    watch.ping()
                if self._failing:
                    print(f"piconet: {self.board.address} is back; leases renewed", file=sys.stderr)
                self._failing = False
            except PiconetError as e:
                if not self._failing and not self._stop.is_set():
                    print(f"piconet: cannot renew the leases on {self.board.address}: {e}; "
                          f"its outputs return to their safe state within {self.lease} s; retrying",
                          file=sys.stderr)
                self._failing = True

    # -- edges ----------------------------------------------------------

    def _watch_pin(self, pin: "PiconetPin") -> None:
        with self._lock:
            self._watched[pin._gpio] = pin
            if pin._edges == "none":
                return
            debounce = 0 if pin._bounce is None else round(pin._bounce * 1000)
            if self._watch is None:
                self._watch = Watch(self.board, [], keepalive=self.lease)
                self._offset_us = None
            self._watch.add(pin._gpio, edge=pin._edges, debounce_ms=debounce)
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(
                    target=self._dispatch_loop, name="piconet-edges", daemon=True)
                self._dispatcher.start()

    def _unwatch_pin(self, pin: "PiconetPin") -> None:
        with self._lock:
            self._watched.pop(pin._gpio, None)
            watch = self._watch
            if watch is not None and pin._gpio in watch.pins:
                try:
                    watch.remove(pin._gpio)
                except PiconetError:
                    pass  # the watch's connection is gone: so is the watch

    def _rewatch(self) -> None:
        """A new watch connection for every watched pin, after the last one broke."""
        with self._lock:
            self._call("ping")  # reconnects, and sets the pins up again if needed
            for pin in list(self._watched.values()):
                self._watch_pin(pin)

    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            watch = self._watch
            if watch is None:
                if not self._watched:
                    self._stop.wait(0.1)
                    continue
                try:
                    self._rewatch()
                except PiconetError:
                    self._stop.wait(self.lease / 3)
                continue
            try:
                event = watch.next(timeout=0.5)
            except PiconetError:
                # The connection broke (and its watches with it): start over.
                with self._lock:
                    if self._watch is watch:
                        self._watch = None
                watch.close()
                continue
            if isinstance(event, EdgeEvent):
                self._deliver(event)
            elif isinstance(event, OverflowEvent):
                warnings.warn(f"piconet: {event.dropped} edges were lost (the board's event queue was full)")

    def _deliver(self, event: EdgeEvent) -> None:
        now = self.ticks()
        # The smallest host-minus-board difference seen is the least delayed
        # delivery: the board's times, moved onto the host's clock by it.
        seen = now - event.time_us
        if self._offset_us is None or seen < self._offset_us:
            self._offset_us = seen
        pin = self._watched.get(event.pin)
        if pin is not None and pin._when_changed is not None:
            pin._call_when_changed(event.time_us + self._offset_us, event.value)


class PiconetPin(PiPin):
    """One GPIO of a piconet board (gpiozero's Pin interface)."""

    def __init__(self, factory: PiconetFactory, info: PinInfo) -> None:
        super().__init__(factory, info)
        self._gpio = int(info.name[4:])
        self._function = "input"
        self._pull = "floating"
        # The safe level (a PWM pin: its safe duty) and the one held by a lease.
        self._safe: float = 0
        self._held: Optional[float] = None
        self._frequency: Optional[int] = None
        self._edges = "both"
        self._bounce: Optional[float] = None
        self._configured = False

    def close(self) -> None:
        self.when_changed = None
        if self._function == "output" and self._held is not None:
            try:
                self._factory._write(self, self._safe)
            except PiconetError:
                pass  # unreachable: the lease ends on the board by itself

    def _renew(self, write_pin, write_pwm) -> None:
        """Writes the held level (or duty) again, for another lease."""
        lease = self._factory.lease
        if self._frequency is None:
            write_pin(self._gpio, int(self._held), timeout=lease, release_on_disconnect=True)
        else:
            write_pwm(self._gpio, float(self._held), timeout=lease, release_on_disconnect=True)

    def _apply(self) -> None:
        """This pin's setup on the board (the command connection's lock held)."""
        board = self._factory.board
        if self._frequency is not None:
            board.setup_pin(self._gpio, "pwm", frequency=self._frequency, duty=float(self._safe))
        elif self._function == "output":
            board.setup_pin(self._gpio, "output", value=self._safe)
        else:
            board.setup_pin(self._gpio, "input", pull=_PULLS[self._pull])

    def _setup(self) -> None:
        with self._factory._lock:
            self._factory._call("ping")  # reconnect first, so _apply runs once
            self._apply()
            self._configured = True

    def output_with_state(self, state) -> None:
        self._function = "output"
        self._safe = 1 if state else 0
        self._held = None
        self._setup()

    def input_with_pull(self, pull) -> None:
        if pull not in _PULLS:
            raise PinInvalidPull(f"invalid pull {pull!r} for pin {self!r}")
        self._function, self._pull, self._held = "input", pull, None
        self._setup()

    def _get_function(self) -> str:
        return self._function

    def _set_function(self, value: str) -> None:
        if value not in ("input", "output"):
            raise PinInvalidFunction(f"invalid function {value!r} for pin {self!r}")
        if value == "output":
            # gpiozero leaves the level as it is: that level is the safe state.
            with self._factory._lock:
                self._factory._call("setup_pin", self._gpio, "output")
                self._safe = self._factory._call("read_pin", self._gpio)
                self._function, self._held, self._configured = "output", None, True
        else:
            self.input_with_pull(self._pull)

    def _get_state(self) -> float:
        if self._frequency is not None:
            pins = self._factory._call("get_pins")
            duty = [p.get("duty") for p in pins if p["pin"] == self._gpio]
            return float(duty[0]) if duty and duty[0] is not None else float(self._safe)
        return self._factory._call("read_pin", self._gpio)

    def _set_state(self, value) -> None:
        if self._function != "output":
            raise PinSetInput(f"cannot set the state of input pin {self!r}")
        if self._frequency is not None:
            if not 0 <= value <= 1:
                raise PinInvalidState(f"invalid duty {value!r} for PWM pin {self!r}: 0.0 to 1.0")
            self._factory._write(self, float(value))
            return
        if value not in (0, 1):  # also False/True
            raise PinInvalidState(f"invalid state {value!r} for pin {self!r}: 0 or 1")
        self._factory._write(self, int(value))

    def _get_pull(self) -> str:
        return self._pull

    def _set_pull(self, value: str) -> None:
        if value not in _PULLS:
            raise PinInvalidPull(f"invalid pull {value!r} for pin {self!r}")
        self._pull = value
        if self._function == "input":
            self._setup()

    def _get_frequency(self) -> Optional[int]:
        return self._frequency

    def _set_frequency(self, value) -> None:
        factory = self._factory
        if value is None:
            if self._frequency is not None:
                with factory._lock:
                    self._frequency, self._held = None, None
                    self._safe = 1 if self._safe >= 0.5 else 0
                    self._setup()
            return
        if "write_pwm" not in factory.actions:
            raise PinPWMUnsupported(
                f"PWM on {self!r} needs the board's write_pwm action, which "
                f"{factory.board.address} does not list")
        if self._function != "output":
            raise PinPWMUnsupported(f"PWM needs an output, and {self!r} is an input")
        with factory._lock:
            held = self._held
            if self._frequency is None:
                self._safe = float(self._safe)
            self._frequency, self._held = int(round(value)), None
            self._setup()  # a board error (frequency out of range) raises here
            if held is not None:
                factory._write(self, float(held))

    def _get_bounce(self) -> Optional[float]:
        return self._bounce

    def _set_bounce(self, value: Optional[float]) -> None:
        if value is not None and not 0 <= value <= MAX_BOUNCE:
            raise PinInvalidBounce(
                f"bounce on {self!r} is 0 to {MAX_BOUNCE} s (the board debounces), not {value}")
        self._bounce = value
        self._rewatch_if_watching()

    def _get_edges(self) -> str:
        return self._edges

    def _set_edges(self, value: str) -> None:
        if value not in _EDGES:
            raise PinInvalidEdges(f"invalid edges {value!r} for pin {self!r}")
        self._edges = value
        self._rewatch_if_watching()

    def _rewatch_if_watching(self) -> None:
        if self._when_changed is not None:
            self._factory._unwatch_pin(self)
            self._factory._watch_pin(self)

    def _enable_event_detect(self) -> None:
        self._factory._watch_pin(self)

    def _disable_event_detect(self) -> None:
        self._factory._unwatch_pin(self)
