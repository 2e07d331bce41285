"""Fetching partner feeds safely: address checks, timeouts, size caps, circuit breaker."""
