"""Not a test module: mypy --strict checks this typical use of the API
against the stubs (scripts/test.sh), so the stubs stay complete."""

from typing import Any, Dict, List, Optional

import piconet
from piconet import Board, EdgeEvent, Event, OverflowEvent


def levels(address: str) -> List[int]:
    with Board(address, ca="cert.pem", timeout=2.0) as board:
        board.setup_pin(2, "output", value=0)
        board.write_pin(2, 1, timeout=0.5, release_on_disconnect=True)
        pins = [int(p["pin"]) for p in board.get_pins()]
        version: str = board.get_version()
        actions: List[str] = board.list_actions()
        rtt: int = board.ping(3)["round_trip"]["avg_ns"]
        del version, actions, rtt
        board.setup_pin(5, "input", pull="up")
        with board.watch(5, edge="falling", debounce_ms=20) as watch:
            event: Optional[Event] = watch.next(timeout=1.0)
            if isinstance(event, EdgeEvent):
                pins.append(event.value + event.pin + event.seq + event.time_us)
            elif isinstance(event, OverflowEvent):
                pins.append(event.dropped)
        try:
            pins.append(board.read_pin(9))
        except piconet.PinNotSetupError as e:
            assert e.exception == "GPIOPinNotSetupError" and e.response is not None
        except piconet.ConnectionError:
            pass
        return pins


def first_found() -> Optional[str]:
    for found in Board.discover(timeout=1.0):
        address: str = found["address"]
        return address
    return None


def eeprom(address: str) -> bytes:
    with Board(address) as board:
        board.i2c_setup(0, sda=4, scl=5)
        found: List[int] = board.i2c_scan(0)
        board.i2c_write(0, found[0], b"\x00\x2a")
        first: bytes = board.i2c_transfer(0, found[0], b"\x00", 1)
        return first + board.i2c_read(0, found[0], 1)


def administer(address: str) -> str:
    with Board(address) as board:
        clients: List[Dict[str, Any]] = board.get_clients()
        board.set_clients(clients + [{"name": "ops", "sha256": "ab" * 32, "role": "viewer"}])
        port: int = board.get_config()["port"]
        board.set_wifi("lab", "a passphrase")
        board.set_port(port)
        name: Optional[str] = board.set_name("garden")["name"]
        mode: str = board.set_radio_power("power_save")["radio_power"]
        board.set_tls(b"", b"")
        board.clear_tls()
        board.clear_config()
        state: str = board.update_status()["state"]
        board.update_begin(4, b"\x00" * 32, b"\x00" * 64, version="1.0.0", allow_downgrade=True)
        board.update_chunk(0, b"\x00" * 4)
        board.update("app.bin", b"\x00" * 64, version="1.0.0")
        board.update(b"\x00" * 4, b"\x00" * 64)
        return state + str(board.update_finish()["state"])
