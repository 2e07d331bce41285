"""A request uvicorn cannot parse is answered in the API's error shape, not in plain text.

A request line or header the HTTP parser refuses (a scanner's garbage, a broken
client) never reaches the app: uvicorn answers it itself, 400 with the text
"Invalid HTTP request received.". `JsonErrorsH11Protocol` is uvicorn's h11
protocol with that one answer replaced by `{"error": "malformed_request",
"details": {"message": ...}}`, so every answer of the service has one shape.

It overrides `send_400_response`, which is uvicorn's own method rather than a
documented hook; `protocol()` falls back to uvicorn's choice when the method is
missing (a uvicorn that changed it), and a test holds the shape to it. It is the
h11 protocol, uvicorn's own choice when httptools is not installed, as it is not
with the `server` extra.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["CODE", "json_errors_protocol", "protocol"]

CODE: Final = "malformed_request"


def protocol() -> type[asyncio.Protocol] | str:
    """The protocol class for `uvicorn.Config(http=...)`, or "auto" where it cannot be built."""
    found = json_errors_protocol()
    return "auto" if found is None else found


def json_errors_protocol() -> type[H11Protocol] | None:
    """uvicorn's h11 protocol answering unparsable requests in the error shape; None where it cannot be built."""
    try:
        import h11
        from uvicorn.protocols.http.h11_impl import H11Protocol
    except ImportError:  # pragma: no cover - uvicorn comes with the server extra, h11 with uvicorn
        return None
    if not callable(getattr(H11Protocol, "send_400_response", None)):  # pragma: no cover - a future uvicorn
        return None

    class JsonErrorsH11Protocol(H11Protocol):
        def send_400_response(self, msg: str) -> None:
            body = json.dumps({"error": CODE, "details": {"message": msg}}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            for event in (
                h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                output = self.conn.send(event)
                if output:
                    self.transport.write(output)
            self.transport.close()

    return JsonErrorsH11Protocol
