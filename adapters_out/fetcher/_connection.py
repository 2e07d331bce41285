"""Pinned connections: TCP to an address that was already checked, TLS verified against
the host name, and a deadline enforced on every socket read.

`http.client` would resolve the host name again when it connects, so a DNS answer that
changes between our check and its connect (DNS rebinding) could swap a public address
for a private one. Here the socket is opened to the checked IP and handed to
`http.client` ready-made; it only writes the request (with the original Host header)
and parses the response.

Socket timeouts bound each read, not a whole response: a server that drips one byte
per second never trips a 30-second read timeout. The sockets below re-arm their
timeout before every read to whatever is left of the fetch's total deadline, so the
deadline holds for headers and body alike, over plain TCP and TLS.
"""

from __future__ import annotations

import functools
import http.client
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["Deadline", "DeadlineExceededError", "open_pinned", "tls_context"]


class DeadlineExceededError(TimeoutError):
    """The fetch's total deadline passed."""


class Deadline:
    """The end of a fetch on a monotonic clock, and the read timeout to apply before it."""

    def __init__(self, monotonic: Callable[[], float], total: float, read_timeout: float) -> None:
        self._monotonic = monotonic
        self._ends_at = monotonic() + total
        self.total = total
        self.read_timeout = read_timeout

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self._ends_at - self._monotonic()

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.remaining() <= 0

    def wait(self, limit: float) -> float:
        """A socket timeout: `limit`, cut to what is left; raises once nothing is left."""
        remaining = self.remaining()
        if remaining <= 0:
            raise DeadlineExceededError(f"total deadline of {self.total:g}s exceeded")
        return min(limit, remaining)


class _DeadlineSocket(socket.socket):
    """A TCP socket whose every read waits at most the read timeout, within the deadline."""

    deadline: Deadline | None = None

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        if self.deadline is not None:
            self.settimeout(self.deadline.wait(self.deadline.read_timeout))
        return super().recv_into(buffer, nbytes, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    """The TLS twin of `_DeadlineSocket` (TLS reads bypass the wrapped socket's methods)."""

    deadline: Deadline | None = None

    def recv_into(self, buffer: WriteableBuffer, nbytes: int | None = None, flags: int = 0) -> int:
        if self.deadline is not None:
            self.settimeout(self.deadline.wait(self.deadline.read_timeout))
        return super().recv_into(buffer, nbytes, flags)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection over a socket opened elsewhere; it never dials by name."""

    def connect(self) -> None:
        raise ConnectionError("a pinned connection cannot reconnect by host name")


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The HTTPS twin: the socket arrives already wrapped and verified."""

    def connect(self) -> None:
        raise ConnectionError("a pinned connection cannot reconnect by host name")


@functools.lru_cache(maxsize=8)
def tls_context(ca_certificates: str | None = None) -> ssl.SSLContext:
    """A verifying client context (TLS 1.2+, host name checked) whose sockets honour deadlines.

    `ca_certificates` (PEM) replaces the system trust store: a private PKI, or tests.

    One context per trust store in a process, shared by every fetcher and webhook sender
    over it: loading the system's CA bundle is tens of milliseconds, more than most fetches,
    and nothing changes a context once it is made (each connection is wrapped by its own
    `SSLSocket`, the context only holds the settings and the trusted certificates).
    """
    context = ssl.create_default_context(cadata=ca_certificates)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.sslsocket_class = _DeadlineSSLSocket
    return context


def open_pinned(
    *,
    host: str,
    port: int,
    address: str,
    deadline: Deadline,
    connect_timeout: float,
    tls: ssl.SSLContext | None,
) -> http.client.HTTPConnection:
    """An HTTP(S) connection for `host` whose TCP connection goes to `address`, and only there.

    With `tls`, the handshake sends SNI = `host` and verifies the certificate against `host`.
    Raises OSError (incl. TimeoutError and ssl.SSLError) when it cannot connect.
    """
    # AI_NUMERICHOST: turn the checked literal into a socket address without any DNS.
    family, kind, proto, _, sockaddr = socket.getaddrinfo(
        address, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
    )[0]
    raw = _DeadlineSocket(family, kind, proto)
    try:
        raw.settimeout(deadline.wait(connect_timeout))
        raw.connect(sockaddr)
        if tls is None:
            raw.deadline = deadline
            connection: http.client.HTTPConnection = _PinnedHTTPConnection(host, port)
            connection.sock = raw
            return connection
        raw.settimeout(deadline.wait(connect_timeout))  # bounds the handshake
        wrapped = tls.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise
    if isinstance(wrapped, _DeadlineSSLSocket):
        wrapped.deadline = deadline
    connection = _PinnedHTTPSConnection(host, port, context=tls)
    connection.sock = wrapped
    return connection
