"""The monitoring app: Spark's streaming REST API, Prometheus metrics, health, dashboard."""

from .app import create_app

__all__ = ["create_app"]
