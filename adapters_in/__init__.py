"""Inbound adapters: what drives the core (HTTP, worker, scheduler, CLI), and the
composition root (bootstrap.py) that wires them to the outbound adapters."""
