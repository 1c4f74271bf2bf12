"""Wire compatibility with the original piconetcontrol 0.2.4.

The ORIGINAL Python client (`piconetcontrol.client.Client`, from PyPI,
written by nobody here) drives piconetd, plaintext and TLS, and the same
commands go to the ORIGINAL server code (reference_server.py) so the
responses can be compared key by key. Timestamps and human-readable error
texts aside, they must match.
"""

import copy
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest
from piconetcontrol.client import Client

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).parent
PICONETD = os.environ.get("PICONETD", str(ROOT / "target" / "debug" / "piconetd"))

SEED_EXAMPLE = [
    {"action": "setup_pin", "pin": 2, "mode": "output", "value": 0},
    {"action": "read_pin", "pin": 2},
    {"action": "write_pin", "pin": 2, "value": 1, "timeout": 1},
    {"action": "read_pin", "pin": 2},
]

# Fields whose values legitimately differ: clocks, and prose.
VOLATILE = {"time_sent", "time_received", "time_responded", "error"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, what):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def start(args, port, what):
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, proc, what)
    return proc


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    """An EC P-256 identity made with the seed's openssl steps (DER files)."""
    d = tmp_path_factory.mktemp("tls")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("ecparam", "-genkey", "-name", "prime256v1", "-out", "ec_key.pem")
    run("ec", "-in", "ec_key.pem", "-outform", "DER", "-out", "ec_key.der")
    run("req", "-new", "-x509", "-key", "ec_key.pem", "-out", "ec_cert.pem",
        "-subj", "/CN=pico", "-days", "30")
    run("x509", "-in", "ec_cert.pem", "-outform", "DER", "-out", "ec_cert.der")
    return d / "ec_cert.der", d / "ec_key.der"


@pytest.fixture(scope="module")
def seed_v1_identity(tmp_path_factory):
    """The seed's openssl steps exactly, completed the usual way
    (`openssl x509 -req -signkey`): an X.509 v1 certificate with OpenSSL 3.0."""
    d = tmp_path_factory.mktemp("tls-v1")

    def run(*args):
        return subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("ecparam", "-genkey", "-name", "prime256v1", "-out", "ec_key.pem")
    run("ec", "-in", "ec_key.pem", "-outform", "DER", "-out", "ec_key.der")
    run("req", "-new", "-key", "ec_key.pem", "-out", "ec_csr.pem", "-subj", "/CN=pico")
    run("x509", "-req", "-in", "ec_csr.pem", "-signkey", "ec_key.pem", "-out", "ec_cert.pem")
    run("x509", "-in", "ec_cert.pem", "-outform", "DER", "-out", "ec_cert.der")
    text = run("x509", "-in", "ec_cert.pem", "-noout", "-text").stdout.decode()
    assert "Version: 1" in text, text
    return d / "ec_cert.der", d / "ec_key.der"


@pytest.fixture(scope="module")
def piconetd_tls_v1(seed_v1_identity):
    cert, key = seed_v1_identity
    port = free_port()
    proc = start([PICONETD, "--listen", f"127.0.0.1:{port}",
                  "--tls-cert", str(cert), "--tls-key", str(key)], port, "piconetd (TLS, v1)")
    yield Client("127.0.0.1", port)
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def piconetd():
    port = free_port()
    proc = start([PICONETD, "--listen", f"127.0.0.1:{port}"], port, "piconetd")
    yield Client("127.0.0.1", port, use_ssl=False)
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def piconetd_tls(identity):
    cert, key = identity
    port = free_port()
    proc = start([PICONETD, "--listen", f"127.0.0.1:{port}",
                  "--tls-cert", str(cert), "--tls-key", str(key)], port, "piconetd (TLS)")
    yield Client("127.0.0.1", port)  # use_ssl=True is the original's default
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def original():
    port = free_port()
    proc = start([sys.executable, str(HERE / "reference_server.py"), str(port)],
                 port, "the original server")
    yield Client("127.0.0.1", port, use_ssl=False)
    proc.terminate()
    proc.wait(10)


def send(client, cmds):
    return client.send_commands(copy.deepcopy(cmds))


def stable(response):
    return {k: v for k, v in response.items() if k not in VOLATILE}


def test_the_seeds_v1_certificate_serves_the_original_client(piconetd_tls_v1):
    """The certificate the seed's steps make (v1) is what an original Pico
    presents; piconetd serves it, and the original client talks over it."""
    cmds = copy.deepcopy(SEED_EXAMPLE)
    for c in cmds:
        c["pin"] = 5
    answers = send(piconetd_tls_v1, cmds)
    assert [a.get("error") for a in answers] == [None] * 4, answers
    assert answers[1]["value"] == 0 and answers[3]["value"] == 1


def test_verifying_the_seeds_certificate_from_python(piconetd_tls_v1, seed_v1_identity):
    """docs/python-client.md's recipe: the certificate as cafile, no name
    check, and VERIFY_X509_STRICT off (on by default from Python 3.13),
    which refuses a v1 certificate as a CA."""
    import ssl
    cert_der, _ = seed_v1_identity
    pem = cert_der.with_suffix(".pem")
    client = Client("127.0.0.1", piconetd_tls_v1.port)
    client.ssl_context = ssl.create_default_context(cafile=str(pem))
    client.ssl_context.check_hostname = False
    client.ssl_context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    answer = client.send_command(action="get_version")
    assert "error" not in answer and answer["version"], answer
    client.ssl_context.verify_flags |= ssl.VERIFY_X509_STRICT
    with pytest.raises(ssl.SSLCertVerificationError):
        client.send_command(action="get_version")


def test_seed_example_matches_the_original_server(piconetd, original):
    ours, theirs = send(piconetd, SEED_EXAMPLE), send(original, SEED_EXAMPLE)
    assert [stable(r) for r in ours] == [stable(r) for r in theirs]
    for r in ours:
        assert "error" not in r
        assert set(r) == set(SEED_EXAMPLE[ours.index(r)]) | {"time_sent", "time_received", "time_responded"} | ({"value"} if r["action"] == "read_pin" else set())
        assert isinstance(r["time_received"], int)
    assert [r.get("value") for r in ours] == [0, 0, 1, 1]


@pytest.mark.parametrize("tls", [False, True])
def test_seed_example_then_the_lease_reverts(tls, piconetd, piconetd_tls):
    client = piconetd_tls if tls else piconetd
    cmds = copy.deepcopy(SEED_EXAMPLE)
    cmds[0]["pin"] = cmds[1]["pin"] = cmds[2]["pin"] = cmds[3]["pin"] = 3 if tls else 4
    cmds[2]["timeout"] = 0.5
    responses = send(client, cmds)
    assert [r.get("error") for r in responses] == [None] * 4
    assert responses[3]["value"] == 1
    time.sleep(1.0)  # the seed's `sleep 5`, shortened
    (r,) = send(client, [{"action": "read_pin", "pin": cmds[0]["pin"]}])
    assert r["value"] == 0


@pytest.mark.parametrize("tls", [False, True])
def test_send_ping(tls, piconetd, piconetd_tls):
    stats = (piconetd_tls if tls else piconetd).send_ping(5)
    assert stats["error"] is False
    assert 0 < stats["rtt"] < 5


ERRORS = [
    {"action": "fly"},
    {"action": "write_pin", "pin": 2},
    {"action": "read_pin", "pin": 9},
    {"pin": 2},
]


def test_errors_have_the_original_classes_and_keys(piconetd, original):
    ours, theirs = send(piconetd, ERRORS), send(original, ERRORS)
    for a, b in zip(ours, theirs):
        assert "error" in a and "error" in b
        assert stable(a) == stable(b), (a, b)
        assert set(a) == set(b)
    assert [r["exception"] for r in ours] == ["ValueError", "ValueError", "GPIOPinNotSetupError", "KeyError"]
    assert ours[0]["error"].startswith('unknown action "fly"')
    assert ours[1]["error"].startswith("incomplete command, missing fields:")


def test_info_version_and_actions(piconetd, original):
    cmds = [{"action": "get_info"}, {"action": "get_version"}, {"action": "list_actions"}]
    ours, theirs = send(piconetd, cmds), send(original, cmds)
    for a, b in zip(ours, theirs):
        assert set(a) == set(b)
    assert "pico" in ours[0]["info"]["board"].lower()  # Client.update_server checks this
    assert isinstance(ours[1]["version"], str)
    assert set(theirs[2]["actions"]) <= set(ours[2]["actions"])


def test_commands_sent_with_send_command(piconetd):
    r = piconetd.send_command(action="setup_pin", pin=6, mode="input")
    assert "error" not in r
    assert piconetd.send_command(action="read_pin", pin=6)["value"] == 0
