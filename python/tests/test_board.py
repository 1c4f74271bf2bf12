"""piconet.Board against piconetd on the simulated board: every action,
errors as exceptions, TLS, events."""

import builtins
import hashlib
import socket
import ssl
import subprocess
import threading
import time

import pytest

import piconet
from piconet import Board, EdgeEvent, errors

from conftest import Daemon, eventually


@pytest.fixture
def board(daemon):
    with Board(daemon.address) as b:
        yield b


def test_version_info_and_actions(board):
    assert isinstance(board.get_version(), str) and board.get_version()
    info = board.get_info()
    assert isinstance(info, dict) and info
    actions = board.list_actions()
    for action in ("ping", "setup_pin", "write_pin", "read_pin", "get_pins", "watch_pin",
                   "unwatch_pin", "sim_input", "reset", "sleep"):
        assert action in actions


def test_ping_measures_every_round_trip(board):
    stats = board.ping(3)
    assert stats["count"] == 3
    rt = stats["round_trip"]
    assert 0 < rt["min_ns"] <= rt["avg_ns"] <= rt["max_ns"]
    with pytest.raises(errors.InvalidArgumentError):
        board.ping(0)


def test_a_write_holds_for_its_timeout_then_the_safe_state_returns(board):
    board.setup_pin(2, "output", value=0)
    assert board.read_pin(2) == 0
    answer = board.write_pin(2, 1, timeout=0.3)
    assert answer["action"] == "write_pin" and answer["value"] == 1
    assert board.read_pin(2) == 1
    eventually(lambda: board.read_pin(2) == 0, what="the lease's end")


def test_timeout_none_is_the_longest_lease(board):
    board.setup_pin(3, "output", value=0)
    board.write_pin(3, True)
    (pin,) = [p for p in board.get_pins() if p["pin"] == 3]
    assert pin["mode"] == "output" and pin["level"] == 1 and pin["safe"] == 0
    assert pin["lease_ms"] > (piconet.MAX_LEASE - 60) * 1000
    board.write_pin(3, 0, timeout=1)  # the safe level ends the lease
    (pin,) = [p for p in board.get_pins() if p["pin"] == 3]
    assert "lease_ms" not in pin


def test_release_on_disconnect_ends_with_the_connection(daemon, board):
    board.setup_pin(4, "output", value=0)
    writer = Board(daemon.address)
    writer.write_pin(4, 1, timeout=60, release_on_disconnect=True)
    assert board.read_pin(4) == 1
    writer.close()
    eventually(lambda: board.read_pin(4) == 0, what="the release on disconnect")
    with pytest.raises(piconet.ConnectionError, match="closed"):
        writer.read_pin(4)


def test_inputs_pulls_and_sim_input(board):
    board.setup_pin(8, "input", pull="up")
    assert board.read_pin(8) == 1
    board.sim_input(8, 0)
    assert board.read_pin(8) == 0
    (pin,) = [p for p in board.get_pins() if p["pin"] == 8]
    assert pin["mode"] == "input" and pin["pull"] == "up"


def test_light_sleep_answers(board):
    assert board.sleep(10)["action"] == "sleep"


def test_reset_unconfigures_the_board_and_the_next_call_reconnects(own_daemon):
    with Board(own_daemon.address) as b:
        b.setup_pin(2, "output", value=0)
        first = b.connections
        assert b.reset()["action"] == "reset"
        eventually(lambda: _reset_seen(b), what="the board's reset")
        with pytest.raises(piconet.PinNotSetupError):
            b.read_pin(2)
        assert b.connections > first


def _reset_seen(b):
    try:
        b.read_pin(2)
        return False
    except piconet.PinNotSetupError:
        return True
    except piconet.ConnectionError:
        return False


def test_the_boards_errors_are_typed_exceptions(board):
    with pytest.raises(piconet.PinNotSetupError) as e:
        board.read_pin(12)
    assert e.value.exception == "GPIOPinNotSetupError"
    assert isinstance(e.value, piconet.ServerError) and isinstance(e.value, piconet.PiconetError)
    assert e.value.response["pin"] == 12 and "error" in e.value.response

    with pytest.raises(builtins.ValueError) as e:
        board.setup_pin(23, "output")  # the Pico W's WiFi chip
    assert isinstance(e.value, piconet.InvalidRequestError) and e.value.exception == "ValueError"

    with pytest.raises(builtins.KeyError) as e:
        board.request({"pin": 2})
    assert isinstance(e.value, piconet.MissingActionError) and "action" in str(e.value)

    board.setup_pin(13, "output", value=0)
    with pytest.raises(piconet.InvalidRequestError):
        board.watch_pin(13)  # an output


def test_a_watch_over_the_limit_is_an_os_error(board):
    board.setup_pin(14, "input")
    watches = []
    try:
        with pytest.raises(builtins.OSError) as e:
            for _ in range(5):  # MAX_WATCHERS is 4
                watches.append(board.watch(14))
        assert isinstance(e.value, piconet.BoardOSError) and e.value.exception == "OSError"
    finally:
        for w in watches:
            w.close()


def test_bad_arguments_fail_before_anything_is_sent(board):
    for call in (lambda: board.write_pin(2, 2), lambda: board.setup_pin(2, "sideways"),
                 lambda: board.setup_pin(2, "input", pull="left"),
                 lambda: board.watch_pin(2, edge="up"),
                 lambda: board.write_pin(2, 1, timeout=0), lambda: board.write_pin(2, 1, timeout=float("nan"))):
        with pytest.raises(piconet.InvalidArgumentError) as e:
            call()
        assert isinstance(e.value, builtins.ValueError)
    with pytest.raises(piconet.InvalidArgumentError, match="port"):
        Board("host:99999")


def test_nothing_listening_is_a_connection_error():
    port = _unused_port()
    with pytest.raises(builtins.ConnectionError) as e:
        Board(f"127.0.0.1:{port}").get_version()
    assert isinstance(e.value, piconet.ConnectionError)
    assert "is piconetd running" in str(e.value)


def _unused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_silent_server_is_a_timeout_error():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        b = Board(f"127.0.0.1:{server.getsockname()[1]}", timeout=0.3)
        with pytest.raises(builtins.TimeoutError) as e:
            b.get_version()
        assert isinstance(e.value, piconet.TimeoutError)
        b.close()


# -- events -------------------------------------------------------------


def test_watch_as_an_iterator(board):
    board.setup_pin(5, "input", pull="down")
    with board.watch(5) as w:
        board.sim_input(5, 1)
        board.sim_input(5, 0)
        first, second = next(w), next(w)
        assert isinstance(first, EdgeEvent)
        assert (first.pin, first.value, first.seq) == (5, 1, 1)
        assert (second.pin, second.value, second.seq) == (5, 0, 2)
        assert second.time_us >= first.time_us
        assert w.next(timeout=0.2) is None
    assert w.closed
    assert list(w) == []


def test_watch_with_a_callback_and_debounce(board):
    board.setup_pin(6, "input", pull="down")
    seen, done = [], threading.Event()

    def callback(event):
        seen.append(event)
        if len(seen) == 2:
            done.set()

    w = board.watch([6], edge="rising", callback=callback)
    try:
        for level in (1, 0, 1, 0):
            board.sim_input(6, level)
        assert done.wait(5)
        assert [(e.pin, e.value) for e in seen] == [(6, 1), (6, 1)]
    finally:
        w.close()
    assert w.error is None


def test_watch_pin_and_next_event_on_the_boards_own_connection(board):
    board.setup_pin(7, "input", pull="down")
    board.watch_pin(7, edge="both", debounce_ms=0)
    assert board.next_event(timeout=0.1) is None
    board.sim_input(7, 1)
    event = board.next_event(timeout=5)
    assert (event.pin, event.value) == (7, 1)
    board.unwatch_pin(7)
    board.sim_input(7, 0)
    assert board.next_event(timeout=0.2) is None
    (pin,) = [p for p in board.get_pins() if p["pin"] == 7]
    assert not pin.get("watched", False)


def test_waiting_for_an_event_does_not_hold_the_gil(daemon, board):
    """The waiting thread would see nothing within its 5 s if the main
    thread could not run Python to send the edge meanwhile."""
    board.setup_pin(9, "input", pull="down")
    got = []
    with board.watch(9) as w:
        waiter = threading.Thread(target=lambda: got.append(w.next(timeout=5)))
        waiter.start()
        time.sleep(0.2)
        board.sim_input(9, 1)
        waiter.join(10)
    assert got and got[0] is not None and got[0].value == 1


def test_a_watch_connection_ending_is_a_connection_error(own_daemon):
    b = Board(own_daemon.address)
    b.setup_pin(5, "input")
    w = b.watch(5)
    own_daemon.stop()
    with pytest.raises(piconet.ConnectionError):
        for _ in range(100):
            w.next(timeout=0.1)
    w.close()
    b.close()


def test_discover_finds_a_board_by_its_name():
    port = _unused_port()
    name = f"pytest-{port}"
    daemon = Daemon("--name", name, port=port, mdns=True)
    try:
        mine = []
        for _ in range(5):  # an mDNS answer may be missed; each browse asks again
            mine = [b for b in Board.discover(timeout=1.0) if b["name"] == name]
            if mine:
                break
        assert mine, f"{name} was not announced"
        (found,) = mine
        assert found["port"] == port and found["auth"] == "none" and found["tls"] == ""
        assert found["host"] == f"{name}.local."
        with Board(found["address"]) as b:
            assert b.get_version() == found["fw"]
    finally:
        daemon.stop()
    with pytest.raises(piconet.InvalidArgumentError):
        Board.discover(timeout=61)


# -- TLS ----------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_daemon(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("ecparam", "-genkey", "-name", "prime256v1", "-out", "key.pem")
    run("ec", "-in", "key.pem", "-outform", "DER", "-out", "key.der")
    run("req", "-new", "-x509", "-key", "key.pem", "-out", "cert.pem", "-subj", "/CN=pico",
        "-days", "30")
    run("x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der")
    daemon = Daemon("--tls-cert", str(d / "cert.der"), "--tls-key", str(d / "key.der"))
    try:
        yield daemon, d
    finally:
        daemon.stop()


def test_tls_verified_by_the_certificate_file(tls_daemon):
    daemon, d = tls_daemon
    with Board(daemon.address, ca=d / "cert.pem") as b:
        assert b.get_version()


def test_tls12_only_is_served(tls_daemon):
    daemon, d = tls_daemon
    with Board(daemon.address, ca=d / "cert.pem", tls12=True) as b:
        assert b.get_version()
        assert b.ping(2)


def test_tls_pinned_on_first_use_then_a_changed_key_is_refused(tls_daemon, tmp_path):
    daemon, _ = tls_daemon
    known = tmp_path / "known_hosts"
    with Board(daemon.address, tls=True, known_hosts=known) as b:
        assert b.get_version()
    assert daemon.address in known.read_text()
    known.write_text(f"{daemon.address} {'00' * 32}\n")
    with pytest.raises(piconet.HostKeyChangedError) as e:
        Board(daemon.address, tls=True, known_hosts=known).get_version()
    assert isinstance(e.value, piconet.TLSError) and isinstance(e.value, builtins.ConnectionError)


def test_tls_insecure_and_plaintext_to_tls(tls_daemon, tmp_path):
    daemon, d = tls_daemon
    with Board(daemon.address, insecure=True) as b:
        assert b.get_version()
    with pytest.raises(piconet.TLSError, match="TLS"):
        Board(daemon.address).get_version()
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(other), "-subj", "/CN=other", "-days", "1"],
                   check=True, capture_output=True)
    with pytest.raises(piconet.CertificateError):
        Board(daemon.address, ca=other).get_version()
    with pytest.raises(piconet.InvalidArgumentError):
        Board(daemon.address, ca=other, insecure=True)


# -- client authentication (mutual TLS) -----------------------------------


def _cert(d, name):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(d / f"{name}.key"),
                    "-out", str(d / f"{name}.pem"), "-subj", f"/CN={name}", "-days", "1"],
                   check=True, capture_output=True)
    der = ssl.PEM_cert_to_DER_cert((d / f"{name}.pem").read_text())
    return d / f"{name}.pem", d / f"{name}.key", hashlib.sha256(der).hexdigest()


def test_identities_and_roles(tmp_path):
    server_cert, server_key, _ = _cert(tmp_path, "server")
    viewer = _cert(tmp_path, "viewer")
    operator = _cert(tmp_path, "operator")
    admin = _cert(tmp_path, "admin")
    clients = tmp_path / "clients.toml"
    clients.write_text(  # a list keeps at least one admin
        f'[[clients]]\nname = "laptop"\nsha256 = "{admin[2]}"\nrole = "admin"\n\n'
        f'[[clients]]\nname = "tv"\nsha256 = "{viewer[2]}"\nrole = "viewer"\n\n'
        f'[[clients]]\nname = "ha"\nsha256 = "{operator[2]}"\nrole = "operator"\npins = [2]\n')
    daemon = Daemon("--tls-cert", str(server_cert), "--tls-key", str(server_key),
                    "--clients", str(clients))
    try:
        with Board(daemon.address, ca=server_cert, identity=operator[:2]) as ha:
            ha.setup_pin(2, "output", value=0)
            ha.write_pin(2, 1, timeout=30)
        with Board(daemon.address, ca=server_cert, identity=(viewer[0], viewer[1])) as tv:
            assert tv.read_pin(2) == 1
            with pytest.raises(builtins.PermissionError) as e:
                tv.write_pin(2, 0, timeout=1)
            assert isinstance(e.value, piconet.PermissionError)
            assert isinstance(e.value, piconet.ServerError) and e.value.exception == "PermissionError"
        with pytest.raises(piconet.ConnectionError):  # no certificate: refused at the handshake
            Board(daemon.address, ca=server_cert).get_version()
        with pytest.raises(piconet.TLSConfigError):
            Board(daemon.address, ca=server_cert, identity=(tmp_path / "none.pem", viewer[1])).get_version()
    finally:
        daemon.stop()
