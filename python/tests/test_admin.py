"""Provisioning, the client list and image updates through piconet.Board
against piconetd on the simulated board: it keeps no settings, takes
settings from the USB cable only, and a first client list likewise."""

import hashlib

import pytest

from conftest import Daemon, eventually
from piconet import Board
from piconet.errors import (
    BoardOSError,
    InvalidArgumentError,
    InvalidRequestError,
    PermissionError,
    ServerError,
)


@pytest.fixture
def board(daemon):
    with Board(daemon.address) as b:
        yield b


def test_settings_are_refused_from_the_network(board):
    with pytest.raises(BoardOSError, match="keeps no settings"):
        board.get_config()
    for change in (
        lambda: board.set_port(1234),
        lambda: board.set_wifi("lab", "a passphrase"),
        lambda: board.set_tls(b"\x30\x00", b"\x30\x00"),
        lambda: board.clear_tls(),
        lambda: board.clear_config(),
        lambda: board.set_name("garden"),
        lambda: board.set_radio_power("power_save"),
    ):
        with pytest.raises(BoardOSError, match="USB cable") as e:
            change()
        assert isinstance(e.value, OSError)
        assert e.value.exception == "OSError"
    # A WPA2 passphrase is 8 to 64 bytes: checked before the origin.
    with pytest.raises(InvalidRequestError):
        board.set_wifi("lab", "short")
    # A name that is not 1-32 of a-z, 0-9 and - is refused before it is sent.
    for bad in ("", "Garden", "a.local", "n" * 33):
        with pytest.raises(InvalidArgumentError, match="1 to 32 of a-z, 0-9 and -") as e:
            board.set_name(bad)
        assert isinstance(e.value, ValueError)
    for bad in ("", "None", "low", "power-save"):
        with pytest.raises(InvalidArgumentError, match="none, performance, power_save or aggressive") as e:
            board.set_radio_power(bad)
        assert isinstance(e.value, ValueError)
    # The connection stayed usable.
    assert board.ping()["count"] == 1


def test_a_board_without_a_client_list(board):
    assert board.get_clients() == []
    entry = {"name": "ops", "sha256": "ab" * 32, "role": "operator", "pins": [2, 3]}
    with pytest.raises(PermissionError, match="USB cable") as e:
        board.set_clients([entry])
    assert isinstance(e.value, ServerError)
    assert board.get_clients() == []


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "ops", "sha256": "ab" * 32, "role": "root"},
        {"name": "ops", "sha256": "xyz", "role": "admin"},
        {"name": "ops", "role": "admin"},
        {"name": "ops", "sha256": "ab" * 32, "role": "admin", "pins": "all"},
        {"name": "ops", "sha256": "ab" * 32, "role": "admin", "colour": "red"},
        "ops",
    ],
)
def test_a_bad_client_entry_is_refused_before_sending(daemon, entry):
    board = Board(daemon.address)
    try:
        with pytest.raises(InvalidArgumentError):
            board.set_clients([entry])
        assert board.connections == 0
    finally:
        board.close()


def test_a_board_that_cannot_update_itself_says_so(board):
    # piconetd's sim board without --update-public-key has no update slot.
    with pytest.raises(InvalidRequestError, match="cannot update itself"):
        board.update_status()


# Any ed25519 public key: the image below is not signed for it.
PUBLIC_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


def test_an_upload_resumes_and_a_bad_signature_is_refused():
    daemon = Daemon("--update-public-key", PUBLIC_KEY)
    try:
        with Board(daemon.address) as board:
            status = board.update_status()
            assert status["state"] == "idle" and status["next_offset"] == 0
            image = bytes(range(256)) * 8
            digest = hashlib.sha256(image).digest()
            with pytest.raises(InvalidArgumentError):
                board.update_begin(len(image), digest[:31], b"\x00" * 64)
            with pytest.raises(InvalidArgumentError):
                board.update_begin(len(image), digest, b"\x00" * 63)
            status = board.update_begin(len(image), digest, b"\x00" * 64, version="9.9.9")
            assert status["state"] == "receiving" and status["sha256"] == digest.hex()
            assert status["version"] == "9.9.9"
            assert board.update_chunk(0, image[:1024])["next_offset"] == 1024
            with pytest.raises(InvalidRequestError, match="from offset 1024"):
                board.update_finish()
            # Where the upload stands survives the refused finish.
            assert board.update_status()["next_offset"] == 1024
            assert board.update_chunk(1024, image[1024:])["next_offset"] == len(image)
            with pytest.raises(ServerError):
                board.update_finish()
            assert board.update_status()["running_version"] == status["running_version"]
    finally:
        daemon.stop()


def test_update_uploads_a_signed_image_resuming_a_partial_upload(tmp_path):
    ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    daemon = Daemon("--update-public-key", public.hex())
    try:
        image = bytes(range(256)) * 20
        signature = key.sign(hashlib.sha512(image).digest())
        path = tmp_path / "app.bin"
        path.write_bytes(image)
        with Board(daemon.address) as board:
            running = board.update_status()["running_version"]
            with pytest.raises(InvalidArgumentError):
                board.update(image, signature[:63])
            with pytest.raises(InvalidArgumentError):
                board.update(tmp_path / "missing.bin", signature)
            # A partial upload of this image: update() goes on from 1024.
            board.update_begin(
                len(image), hashlib.sha256(image).digest(), signature, version="0.2.0"
            )
            board.update_chunk(0, image[:1024])
            status = board.update(path, signature, version="0.2.0")
            assert status["state"] == "ready"
            assert status["next_offset"] == len(image)
            assert status["sha256"] == hashlib.sha256(image).hexdigest()

            # The sim board resets into it; these bytes are no sim firmware
            # image that confirms itself, so its bootloader rolls back.
            def back():
                try:
                    return board.update_status()
                except ConnectionError:
                    return None

            after = eventually(back, what="the board back after the update")
            assert after["last"] == "rolled_back"
            assert after["state"] == "idle"
            assert after["running_version"] == running
    finally:
        daemon.stop()
