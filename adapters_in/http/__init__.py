"""The HTTP adapter: a Starlette app over the use cases (`create_app`), and what it is made of."""

from .app import create_app
from .lifespan import BackgroundService
from .metrics import Metrics

__all__ = ["BackgroundService", "Metrics", "create_app"]
