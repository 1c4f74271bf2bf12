"""Stand-in for MicroPython's `machine`, so the original server runs on CPython.

Only what piconetcontrol 0.2.4's server touches: Pin (in-memory levels),
Timer (never fires: reset/sleep are not exercised against the reference),
reset/deepsleep/lightsleep (no-ops).
"""


class Pin:
    IN = 0
    OUT = 1
    _levels = {}

    def __init__(self, pin, mode=None):
        self.pin = pin
        Pin._levels.setdefault(pin, 0)

    def value(self, v=None):
        if v is None:
            return Pin._levels[self.pin]
        Pin._levels[self.pin] = int(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class Timer:
    ONE_SHOT = 0

    def init(self, **kwargs):
        pass


def reset():
    pass


def soft_reset():
    pass


def deepsleep(ms):
    pass


def lightsleep(ms):
    pass
