"""The version of dstream (the distribution reads it from here too, see pyproject.toml)."""

__version__ = "0.1.0"
