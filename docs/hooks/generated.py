"""MkDocs hook: what the pages take from the repository at build time.

- ``build/docs-src/`` (the API reference's search path, ``paths`` in mkdocs.yml) holds the
  ``dstream`` package as it installs: the folders that ``pyproject.toml`` maps into it
  (``receivers/`` as ``dstream.receivers`` ...) linked in, as griffe reads sources from folders
  and knows nothing of that mapping;
- ``<!-- settings table -->`` becomes the table of every setting in ``dstream.conf.SETTINGS``
  (rendered by ``dstream.conf_doc.markdown_table``), so the configuration page cannot drift
  from the registry;
- ``<!-- metrics table -->`` becomes the table of every Prometheus metric family that
  ``service/api/metrics.py`` defines, read from its source, and ``<!-- routes table -->``
  the table of the monitoring app's routes, from the app itself;
- ``<!-- include PATH -->`` becomes the Markdown file at ``PATH`` (from the repository root)
  with its title dropped and its headings one level down, so ``jobs/README.md`` and
  ``benchmarks/README.md`` stay the one copy of their text.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from dstream.conf_doc import markdown_table

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "build" / "docs-src"
SETTINGS_TABLE = "<!-- settings table -->"
METRICS_TABLE = "<!-- metrics table -->"
ROUTES_TABLE = "<!-- routes table -->"
INCLUDE = re.compile(r"^<!-- include (\S+) -->$", re.M)


def link_installed_layout(target: Path = SOURCES) -> None:
    """``target/dstream``: the entries of ``dstream/`` and the mapped folders, as symlinks."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        mapped = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    package = target / "dstream"
    shutil.rmtree(target, ignore_errors=True)
    package.mkdir(parents=True)
    for entry in (ROOT / "dstream").iterdir():
        (package / entry.name).symlink_to(entry)
    for name, folder in mapped.items():
        (package / name.removeprefix("dstream.")).symlink_to(ROOT / folder)


def included(path: str) -> str:
    """The file at ``path`` without its ``# title`` line, every heading one level deeper."""
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    in_code = False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"#+ ", line):
            lines[i] = "#" + line
    return "\n".join(lines) + "\n"


def on_startup(**kwargs: Any) -> None:
    # before on_config: the mkdocstrings handler reads its search paths there
    link_installed_layout()


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    for marker, table in ((SETTINGS_TABLE, markdown_table), (METRICS_TABLE, metrics_table),
                          (ROUTES_TABLE, routes_table)):
        if marker in markdown:
            markdown = markdown.replace(marker, table())
    return INCLUDE.sub(lambda m: included(m.group(1)), markdown)

_FAMILIES = {"CounterMetricFamily": "counter", "GaugeMetricFamily": "gauge", "Histogram": "histogram"}


def metrics_table(source: Path = ROOT / "service" / "api" / "metrics.py") -> str:
    """Every metric family that ``source`` defines: name as exposed, type, labels, help."""
    rows: dict[int, str] = {}  # by line, in the order of the source
    for function in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if not isinstance(function, ast.FunctionDef):
            continue
        assigned = {target.id: node.value for node in ast.walk(function) if isinstance(node, ast.Assign)
                    for target in node.targets if isinstance(target, ast.Name)}
        for call in ast.walk(function):
            kind = (_FAMILIES.get(call.func.id) if isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name) else None)
            if kind is None:
                continue
            name, meaning = ast.literal_eval(call.args[0]), call.args[1]
            if isinstance(meaning, ast.Call):  # doc.format("..."): the template is assigned above
                template = ast.literal_eval(assigned[meaning.func.value.id])  # type: ignore[attr-defined]
                meaning = ast.Constant(template.format(ast.literal_eval(meaning.args[0])))
            labels = next((k.value for k in call.keywords if k.arg == "labels"), ast.List([]))
            if isinstance(labels, ast.Name):
                labels = assigned[labels.id]
            exposed = f"{name}_total" if kind == "counter" else name
            rows[call.lineno] = (f"| `{exposed}` | {kind} | {', '.join(ast.literal_eval(labels))} | "
                                 f"{ast.literal_eval(meaning)} |")
    header = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    return "\n".join(header + [rows[line] for line in sorted(rows)])



def routes_table() -> str:
    """Every route of the monitoring app (``create_app`` over a context that never starts), with
    the first paragraph of its docstring; the static assets and ``/openapi.json`` left out."""
    from dstream import Context, StreamingContext
    from dstream.service import ContextView, create_app

    with Context("local", "docs") as ctx:
        app = create_app(ContextView(StreamingContext(ctx, 1, clock="manual")))
    rows = ["| route | what it answers |", "|---|---|"]
    for route in app.routes:
        path, endpoint = getattr(route, "path", ""), getattr(route, "endpoint", None)
        if path.startswith("/static/") or path == "/openapi.json" or endpoint is None:
            continue
        about = " ".join((endpoint.__doc__ or "").split("\n\n")[0].split())
        rows.append(f"| `GET {path}` | {about} |")
    return "\n".join(rows)
