"""The HTTP adapter: a Starlette app over the use cases."""
