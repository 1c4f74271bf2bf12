"""Stand-in for MicroPython's ubinascii."""
from binascii import a2b_base64  # noqa: F401
