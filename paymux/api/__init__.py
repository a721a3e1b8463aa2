"""Operator-facing HTTP APIs: the sandbox control API and the admin API."""
