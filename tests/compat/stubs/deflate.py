"""Stand-in for MicroPython's deflate (unused by these tests)."""
DeflateIO = None
