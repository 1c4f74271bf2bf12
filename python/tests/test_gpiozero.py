"""Real gpiozero (from PyPI) on piconet's pin factory, against piconetd on
the simulated board: LED, blink, Button callbacks, input and output
devices, Pico W pin names, the entry point, leases that revert when the
script dies or hangs, and reconnection."""

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from gpiozero import (
    LED, PWMLED, Button, Device, DigitalInputDevice, DigitalOutputDevice,
)
from gpiozero.exc import PinInvalidPin, PinPWMUnsupported

from piconet import Board
from piconet.gpiozero import PICO_W, PiconetFactory

from conftest import ROOT, eventually, free_port

# Long enough that a renewal (every LEASE/3) is not late on a loaded machine.
LEASE = 1.5


@pytest.fixture
def factory(daemon):
    f = PiconetFactory(host=daemon.address, lease=LEASE)
    try:
        yield f
    finally:
        f.close()


@pytest.fixture
def observer(daemon):
    """Another client of the same board, to see what the pins do."""
    with Board(daemon.address) as b:
        yield b


def test_led_on_off_and_its_lease_is_renewed(factory, observer):
    led = LED(15, pin_factory=factory)
    assert observer.read_pin(15) == 0
    led.on()
    assert observer.read_pin(15) == 1 and led.is_lit
    time.sleep(3 * LEASE)  # three leases: only renewals keep it on
    assert observer.read_pin(15) == 1
    (pin,) = [p for p in observer.get_pins() if p["pin"] == 15]
    assert 0 < pin["lease_ms"] <= LEASE * 1000 and pin["safe"] == 0
    led.off()
    assert observer.read_pin(15) == 0 and not led.is_lit
    led.close()


def test_led_blink_drives_both_levels(factory, observer):
    led = LED("GP16", pin_factory=factory)
    led.blink(on_time=0.05, off_time=0.05, n=3, background=False)
    assert observer.read_pin(16) == 0
    led.blink(on_time=0.1, off_time=0.1)
    seen = set()
    eventually(lambda: seen.add(observer.read_pin(16)) or seen == {0, 1}, what="blinking")
    led.close()
    eventually(lambda: observer.read_pin(16) == 0, what="the LED off after close")


def test_button_callbacks_from_board_edges(factory, observer):
    button = Button(5, pull_up=True, bounce_time=0.01, pin_factory=factory)
    pressed, released = threading.Event(), threading.Event()
    button.when_pressed = pressed.set
    button.when_released = released.set
    assert not button.is_pressed
    observer.sim_input(5, 0)  # pulled up: pressing connects to ground
    assert pressed.wait(5) and button.is_pressed
    time.sleep(0.05)  # past the bounce time: not a bounce
    observer.sim_input(5, 1)
    assert released.wait(5) and not button.is_pressed
    button.close()


def test_digital_input_and_output_devices(factory, observer):
    out = DigitalOutputDevice(7, pin_factory=factory)
    inp = DigitalInputDevice(6, pull_up=False, pin_factory=factory)
    activated = threading.Event()
    inp.when_activated = activated.set
    out.on()
    assert out.value == 1 and observer.read_pin(7) == 1
    out.off()
    assert observer.read_pin(7) == 0
    assert inp.value == 0
    observer.sim_input(6, 1)
    assert activated.wait(5) and inp.value == 1
    out.close()
    inp.close()


def test_pico_w_pin_names(factory):
    gp17 = factory.pin(17)
    for name in ("GP17", "GPIO17", "17", "BOARD22", "J1:22"):
        assert factory.pin(name) is gp17
    assert factory.pin("ADC0") is factory.pin(26)
    for wifi_chip in (23, 24, 25, 29):
        with pytest.raises(PinInvalidPin):
            factory.pin(wifi_chip)
    assert "Pico W" in factory.board_info.description
    assert PICO_W.headers["J1"].pins[40].name == "VBUS"


def test_pwmled_on_a_board_without_write_pwm_says_so():
    """The original piconetcontrol server lists no write_pwm."""
    port = free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "compat" / "reference_server.py"),
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        eventually(lambda: _listening(port), timeout=20, what="the original server")
        factory = PiconetFactory(host=f"127.0.0.1:{port}", lease=LEASE)
        try:
            with pytest.raises(PinPWMUnsupported, match="write_pwm"):
                PWMLED(14, pin_factory=factory)
        finally:
            factory.close()
    finally:
        server.kill()
        server.wait(10)


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _script(address, body, extra_env=None):
    env = dict(os.environ, GPIOZERO_PIN_FACTORY="piconet", PICONET_HOST=address,
               PICONET_LEASE=str(LEASE), **(extra_env or {}))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(body)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_line(proc, expected):
    line = proc.stdout.readline().strip()
    assert line == expected, (line, proc.stderr.read() if proc.poll() is not None else "")


def test_the_entry_point_and_a_killed_script_reverts_its_pin(daemon, observer):
    proc = _script(daemon.address, """
        import time
        from gpiozero import LED, Device
        led = LED(18)
        print(type(Device.pin_factory).__name__, flush=True)
        led.on()
        print("on", flush=True)
        time.sleep(60)
    """)
    try:
        _wait_line(proc, "PiconetFactory")
        _wait_line(proc, "on")
        assert observer.read_pin(18) == 1
        time.sleep(3 * LEASE)
        assert observer.read_pin(18) == 1  # renewed while the script runs
        proc.kill()
        proc.wait(10)
        # The connection closed with the process: released at once.
        eventually(lambda: observer.read_pin(18) == 0, timeout=LEASE, what="the revert")
    finally:
        proc.kill()
        proc.wait(10)


def test_a_hung_script_reverts_within_a_lease(daemon, observer):
    """SIGSTOP: the connection stays open but nothing renews the lease, as
    when the network drops."""
    proc = _script(daemon.address, """
        import time
        from gpiozero import LED
        led = LED(19)
        led.on()
        print("on", flush=True)
        time.sleep(60)
    """)
    try:
        _wait_line(proc, "on")
        assert observer.read_pin(19) == 1
        proc.send_signal(subprocess.signal.SIGSTOP)
        eventually(lambda: observer.read_pin(19) == 0, timeout=3 * LEASE, what="the lease's end")
    finally:
        proc.kill()
        proc.wait(10)


def test_after_a_restart_the_factory_sets_the_pins_up_again(own_daemon):
    f = PiconetFactory(host=own_daemon.address, lease=LEASE)
    try:
        led = LED(20, pin_factory=f)
        button = Button(21, pull_up=False, pin_factory=f)
        pressed = threading.Event()
        button.when_pressed = pressed.set
        led.on()
        own_daemon.stop()
        own_daemon.start()  # a fresh board: nothing set up
        with Board(own_daemon.address) as observer:
            eventually(lambda: _level(observer, 20) == 1, timeout=10, what="the LED on again")
            (pin,) = [p for p in observer.get_pins() if p["pin"] == 21]
            assert pin["mode"] == "input" and pin["pull"] == "down"
            eventually(lambda: (observer.sim_input(21, 1), observer.sim_input(21, 0),
                                pressed.wait(0.2))[-1], timeout=10, what="edges again")
        led.close()
        button.close()
    finally:
        f.close()


def _level(board, pin):
    try:
        return board.read_pin(pin)
    except Exception:
        return None


def test_no_host_is_a_clear_error(monkeypatch):
    from gpiozero.exc import BadPinFactory
    monkeypatch.delenv("PICONET_HOST", raising=False)
    with pytest.raises(BadPinFactory, match="PICONET_HOST"):
        PiconetFactory()
