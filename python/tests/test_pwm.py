"""PWM and ADC through piconet.Board and gpiozero's PWMLED, against
piconetd's simulated board (PROTOCOL-NEXT: write_pwm, read_adc,
read_temperature)."""

import subprocess
import time

import pytest
from gpiozero import PWMLED

import piconet
from piconet import Board
from piconet.gpiozero import PiconetFactory

from conftest import eventually
from test_gpiozero import LEASE, _script, _wait_line


def _duty(board, pin):
    (p,) = [p for p in board.get_pins() if p["pin"] == pin]
    return p["duty"]


@pytest.fixture
def board(daemon):
    with Board(daemon.address) as b:
        yield b


def test_write_pwm_holds_its_duty_then_the_safe_duty_returns(board):
    board.setup_pin(15, "pwm", frequency=1000, duty=0.0)
    (p,) = [p for p in board.get_pins() if p["pin"] == 15]
    assert p["mode"] == "pwm" and p["frequency"] == 1000 and p["safe_duty"] == 0.0
    board.write_pwm(15, 0.25, timeout=0.3, frequency=2000)
    (p,) = [p for p in board.get_pins() if p["pin"] == 15]
    assert p["duty"] == 0.25 and p["frequency"] == 2000 and p["lease_ms"] > 0
    eventually(lambda: _duty(board, 15) == 0.0, what="the safe duty")
    with pytest.raises(piconet.InvalidArgumentError):
        board.write_pwm(15, 1.5)
    with pytest.raises(piconet.InvalidRequestError):
        board.setup_pin(16, "pwm", frequency=5)  # below 10 Hz


def test_adc_and_temperature(board):
    board.setup_pin(26, "adc")
    board.sim_input(26, volts=1.65)
    reading = board.read_adc(26)
    assert 0 <= reading["raw"] <= 4095 and abs(reading["volts"] - 1.65) < 0.01
    with pytest.raises(piconet.InvalidRequestError):
        board.setup_pin(2, "adc")
    assert isinstance(board.read_temperature(), float)


def test_pwmled_on_the_factory_and_its_lease(daemon, board):
    factory = PiconetFactory(host=daemon.address, lease=LEASE)
    try:
        led = PWMLED(10, frequency=500, pin_factory=factory)  # slice 5: no other PWM pin
        led.value = 0.5
        assert _duty(board, 10) == 0.5 and led.value == 0.5
        time.sleep(3 * LEASE)
        assert _duty(board, 10) == 0.5  # renewed
        led.off()
        assert _duty(board, 10) == 0.0
        led.close()
    finally:
        factory.close()


def test_a_killed_script_puts_its_pwm_back(daemon, board):
    proc = _script(daemon.address, """
        import time
        from gpiozero import PWMLED
        led = PWMLED(13)
        led.value = 0.75
        print("on", flush=True)
        time.sleep(60)
    """)
    try:
        _wait_line(proc, "on")
        assert _duty(board, 13) == 0.75
        proc.kill()
        proc.wait(10)
        eventually(lambda: _duty(board, 13) == 0.0, timeout=LEASE, what="the safe duty")
    finally:
        proc.kill()
        proc.wait(10)
