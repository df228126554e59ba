"""The configuration table, generated from the settings registry.

The docs' configuration page gets this table when it is built (``docs/hooks/generated.py``),
so it always lists ``dstream.conf.SETTINGS`` as they are; ``python -m dstream.conf_doc``
prints it.

>>> print(markdown_table().splitlines()[2])
| `spark.master` |  | string | local[*] |  | master URL: local, local[N], local[*], dask://HOST:PORT, dask-local[N] |
"""

from __future__ import annotations

from .conf import SETTINGS, Setting

__all__ = ["markdown_table"]


def _default(setting: Setting) -> str:
    value = setting.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if setting.kind == "duration":
        seconds = float(value)  # type: ignore[arg-type]
        return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"
    return str(value)


def _kind(setting: Setting) -> str:
    return " \\| ".join(setting.choices) if setting.kind == "choice" else setting.kind


def _spark(setting: Setting) -> str:
    if not setting.spark:
        return ""
    unit = f" (bare numbers: {setting.spark_unit})" if setting.spark_unit else ""
    return f"`{setting.spark}`{unit}"


def markdown_table() -> str:
    """One row per setting: key, Spark name, type, default, unit, meaning.

    >>> markdown_table().count("\\n| `") == len(SETTINGS)
    True
    """
    rows = ["| key | Spark name | type | default | unit | meaning |", "|---|---|---|---|---|---|"]
    for s in SETTINGS.values():
        rows.append(f"| `{s.key}` | {_spark(s)} | {_kind(s)} | {_default(s)} | {s.unit} | "
                    f"{s.doc.replace('|', chr(92) + '|')} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
