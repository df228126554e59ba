"""``toDebugString``: the lineage as text, indented where a shuffle starts a new stage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .dependency import ShuffleDependency

if TYPE_CHECKING:
    from .rdd import RDD

__all__ = ["debug_string"]


def debug_string(rdd: RDD[Any]) -> str:
    """Spark's layout: ``(2) ShuffledRDD[3] at job.py:7 []``, `` |  `` for a narrow parent,
    `` +-(n) `` for a shuffle parent, whose own lineage is indented one stage deeper."""
    return "\n".join([f"({rdd.getNumPartitions()}) {_describe(rdd)}", *_parents(rdd, "")])


def _describe(node: RDD[Any]) -> str:
    cached = f" [{node.storage_level}]" if node.is_cached else " []"
    return f"{node!r}{' (checkpointed)' if node._checkpointed else ''}{cached}"


def _parents(node: RDD[Any], indent: str) -> list[str]:
    lines: list[str] = []
    for dep in node.deps:
        parent = dep.rdd
        if parent is None:
            continue
        if isinstance(dep, ShuffleDependency):
            lines.append(f"{indent} +-({parent.getNumPartitions()}) {_describe(parent)}")
            lines.extend(_parents(parent, indent + "    "))
        else:
            lines.append(f"{indent} |  {_describe(parent)}")
            lines.extend(_parents(parent, indent))
    return lines
