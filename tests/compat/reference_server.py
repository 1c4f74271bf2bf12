"""Run the ORIGINAL piconetcontrol 0.2.4 Pico W server on CPython, as a
reference for wire compatibility. Its MicroPython-only modules are stubbed
(see stubs/); its protocol code runs unchanged from the PyPI wheel.

Usage: python reference_server.py PORT [CERT_DER KEY_DER]
"""

import asyncio
import gc
import json
import os
import pathlib
import sys
import tempfile

import piconetcontrol

here = pathlib.Path(__file__).parent
sys.path.insert(0, str(here / "stubs"))
# The server modules import each other flat, as on the Pico's filesystem.
sys.path.insert(0, str(pathlib.Path(piconetcontrol.__file__).parent / "server"))

from server_pico import GPIOControlServerPicoW  # noqa: E402


# MicroPython's StreamReader has get_extra_info (the server logs the peer
# with it); CPython's has it on the writer only.
asyncio.StreamReader.get_extra_info = lambda self, name, default=None: default
# And MicroPython's gc reports heap figures for get_info.
gc.mem_free = lambda: 0
gc.mem_alloc = lambda: 0


def main():
    port = int(sys.argv[1])
    cert, key = (sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else (None, None)
    creds = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"ssid": "x", "pwd": "y"}, creds)
    creds.close()
    server = GPIOControlServerPicoW(creds.name, port, cert, key)
    os.unlink(creds.name)
    # No blinking delays: the LED is a stub.
    server.blink_led = lambda *a, **k: None
    asyncio.run(server.run())


if __name__ == "__main__":
    main()
