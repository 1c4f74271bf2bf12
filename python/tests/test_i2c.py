"""I2C through piconet.Board against the 24C02 EEPROM that piconetd's
simulated board has at 0x50 on each bus (PROTOCOL-NEXT "I2C")."""

import pytest

from piconet import Board
from piconet.errors import BoardOSError, InvalidRequestError


@pytest.fixture
def board(daemon):
    with Board(daemon.address) as b:
        b.i2c_setup(0, sda=4, scl=5)
        yield b


def test_the_eeprom_reads_back_what_was_written(board):
    # The first byte written sets the EEPROM's address pointer.
    board.i2c_write(0, 0x50, bytes([0x10, 1, 2, 3]))
    assert board.i2c_transfer(0, 0x50, b"\x10", 3) == b"\x01\x02\x03"
    # A plain read goes on from the pointer; erased cells read 0xFF.
    assert board.i2c_read(0, 0x50, 2) == b"\xff\xff"


def test_256_bytes_each_way_and_the_limits(board):
    data = bytes(range(256))
    board.i2c_write(0, 0x50, b"\x00" + data[:255])
    got = board.i2c_transfer(0, 0x50, b"\x00", 256)
    assert len(got) == 256 and got[:255] == data[:255]
    with pytest.raises(InvalidRequestError):
        board.i2c_read(0, 0x50, 257)
    with pytest.raises(OverflowError):
        board.i2c_read(0, 0x50, -1)


def test_no_device_is_an_oserror_naming_the_address(board):
    with pytest.raises(BoardOSError, match="0x51") as e:
        board.i2c_read(0, 0x51, 1)
    assert isinstance(e.value, OSError)


def test_scan_finds_the_eeprom_only(board):
    assert board.i2c_scan(0) == [0x50]


def test_a_bus_must_be_set_up_on_a_valid_pair(daemon):
    with Board(daemon.address) as b:
        with pytest.raises(InvalidRequestError):
            b.i2c_setup(0, sda=4, scl=6)
        with pytest.raises(ValueError):
            b.i2c_read(1, 0x50, 1)
