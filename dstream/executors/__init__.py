"""Executor backends: where tasks run. The scheduler drives each through one interface."""

from .base import ExecutorBackend, RemoteTaskError
from .factory import create_backend, parse_master

__all__ = ["ExecutorBackend", "RemoteTaskError", "create_backend", "parse_master"]
