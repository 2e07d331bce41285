"""The pages: a partner portal (/portal), an admin console (/console) and the API reference (/docs).

One more inbound adapter over the same use cases as the JSON API (ADR 0038):
server-rendered Jinja2 templates, no script needed for any flow, sessions
signed in with an API key and stored through the `WebSessionRepository` port.
`create_app` mounts `ROUTES` beside the API's.
"""

from __future__ import annotations

from .routes import ROUTES

__all__ = ["ROUTES"]
