"""The exceptions of piconet.

Every one is a :class:`PiconetError`, and also the built-in exception it
corresponds to, so ``except OSError`` or ``except ValueError`` catch them
as well. When the board refused a command the exception is a
:class:`ServerError` carrying the board's ``exception`` class name (the
protocol's error classes), its ``error`` text and the whole ``response``.
"""

import builtins
from typing import Any, Dict, Optional

__all__ = [
    "PiconetError",
    "InvalidArgumentError",
    "ConnectionError",
    "TimeoutError",
    "TLSError",
    "CertificateError",
    "HostKeyChangedError",
    "TLSConfigError",
    "ProtocolError",
    "ServerError",
    "PinNotSetupError",
    "InvalidRequestError",
    "MissingActionError",
    "BoardOSError",
    "ServerTimeoutError",
    "PermissionError",
    "BusyError",
]


class PiconetError(Exception):
    """Base class of every piconet exception.

    ``exception``, ``error`` and ``response`` are set when the board
    answered with an error (see :class:`ServerError`), else None.
    """

    exception: Optional[str]
    error: Optional[str]
    response: Optional[Dict[str, Any]]

    def __init__(
        self,
        message: str,
        *,
        exception: Optional[str] = None,
        error: Optional[str] = None,
        response: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.exception = exception
        self.error = error
        self.response = response


# -- failures on this side or on the way ------------------------------------


class InvalidArgumentError(PiconetError, builtins.ValueError):
    """An argument no board could accept (a bad address, level, mode...)."""


class ConnectionError(PiconetError, builtins.ConnectionError):
    """The board could not be reached, or the connection broke or was closed."""


class TimeoutError(PiconetError, builtins.TimeoutError):
    """Connecting, or an answer, took longer than the board's ``timeout``."""


class TLSError(ConnectionError):
    """The TLS handshake failed (or the server wants TLS and got plaintext)."""


class CertificateError(TLSError):
    """The server's certificate is not trusted by the ``ca`` file."""


class HostKeyChangedError(TLSError):
    """The server presents another certificate than the one pinned for it."""


class TLSConfigError(PiconetError, builtins.ValueError):
    """The CA file or the known-hosts file cannot be used."""


class ProtocolError(PiconetError):
    """The server answered something that is not a valid answer."""


# -- the board refused the command -------------------------------------------


class ServerError(PiconetError):
    """The board answered with an error; ``exception`` names its class."""


class PinNotSetupError(ServerError):
    """The pin was used before ``setup_pin`` (``GPIOPinNotSetupError``)."""


GPIOPinNotSetupError = PinNotSetupError


class InvalidRequestError(ServerError, builtins.ValueError):
    """A bad value, unknown action, reserved pin, writing an input... (``ValueError``)."""


class MissingActionError(ServerError, builtins.KeyError):
    """A command without an ``action`` (``KeyError``)."""

    def __str__(self) -> str:
        # KeyError's own __str__ would quote the message.
        return str(self.args[0]) if self.args else ""


class BoardOSError(ServerError, builtins.OSError):
    """The hardware underneath failed, or the board cannot do it (``OSError``)."""


class ServerTimeoutError(ServerError, builtins.TimeoutError):
    """The board closed an idle or unfinished connection (``TimeoutError``)."""


class PermissionError(ServerError, builtins.PermissionError):
    """This client is not allowed to do that (``PermissionError``)."""


class BusyError(ServerError, builtins.ConnectionRefusedError):
    """The board has no free connection slot (``ConnectionRefusedError``)."""
