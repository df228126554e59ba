"""The docs site builds with warnings as errors, and its generated parts hold what they take from
the code: every setting of the registry, every route of the monitoring app, every metric family,
the included READMEs and the API reference with its examples."""

from __future__ import annotations

import html
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from dstream.conf import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def _hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", ROOT / "docs" / "hooks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built as the README's command builds it (``mkdocs build --strict``)."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    return out


def text_of(site: Path, page: str) -> str:
    """The visible text of a built page (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", (site / page / "index.html").read_text(encoding="utf-8")))


def test_the_configuration_page_lists_every_setting(site: Path) -> None:
    page = text_of(site, "configuration")
    missing = [key for key in SETTINGS if key not in page]
    assert not missing, f"settings missing from the configuration page: {missing}"
    assert "<!-- settings table -->" not in page


def test_the_monitoring_page_lists_every_route_and_metric(site: Path) -> None:
    from dstream import Context, StreamingContext
    from dstream.service import ContextView, create_app

    page = text_of(site, "monitoring")
    with Context("local", "docs-test") as ctx:
        app = create_app(ContextView(StreamingContext(ctx, 1, clock="manual")))
    paths = {route.path for route in app.routes if not route.path.startswith("/static/")}  # type: ignore[attr-defined]
    assert {"/api/v1/streaming/statistics", "/metrics", "/readyz"} <= paths
    assert [p for p in paths - {"/openapi.json"} if f"GET {p}" not in page] == []
    source = (ROOT / "service" / "api" / "metrics.py").read_text(encoding="utf-8")
    families = set(re.findall(r'"(dstream_[a-z_]+)"', source))
    assert len(families) >= 20
    assert [f for f in families if f not in page] == []
    assert "dstream_batches_completed_total" in page        # counters as exposed, with _total


def test_the_included_readmes_are_in_their_pages(site: Path) -> None:
    jobs, benchmarks = text_of(site, "jobs"), text_of(site, "benchmarks")
    assert "Settings and their precedence" in jobs          # a heading of jobs/README.md
    assert "streaming_wordcount" in benchmarks and "Where the time goes" in benchmarks
    assert "<!-- include" not in jobs + benchmarks


@pytest.mark.parametrize("page, names", [
    ("api/batch", ["Context", "Conf", "RDD", "Broadcast", "Accumulator", "StorageLevel", "StatCounter"]),
    ("api/streaming", ["StreamingContext", "DStream", "StreamingListener", "reduceByKeyAndWindow"]),
    ("api/kafka", ["KafkaUtils", "createStream", "createDirectStream", "createRDD", "OffsetRange"]),
    ("api/receivers", ["Receiver", "onStart", "store", "restart"]),
    ("api/checkpoint", ["open_store", "DiskStore", "RedisStore", "read_log"]),
    ("api/service", ["main", "run_standalone", "create_app", "ContextView"]),
])
def test_the_api_reference_shows_each_class_with_its_examples(site: Path, page: str,
                                                              names: list[str]) -> None:
    built = (site / page / "index.html").read_text(encoding="utf-8")
    for name in names:
        assert 'id="dstream.' in built and re.search(rf'id="[\w.]*\b{name}"', built), name
    # the doctests are rendered as code blocks, not as Markdown quotes
    assert "<blockquote>" not in built
    assert built.count('class="language-pycon') + built.count("highlight") >= len(names)


def test_doctests_become_code_blocks_and_roles_code_spans() -> None:
    as_markdown = _hook("doctest_blocks").as_markdown
    text = "Sum with :meth:`~dstream.RDD.sum`.\n\n>>> 1 + 1\n2\n\nAfter."
    assert as_markdown(text) == ("Sum with `dstream.RDD.sum`.\n\n\n```pycon\n>>> 1 + 1\n2\n```\n\n"
                                 "\nAfter.")
    fenced = "```python\n>>> not a doctest here\n```"
    assert as_markdown(fenced) == fenced


def test_included_files_lose_their_title_and_go_one_level_down(tmp_path: Path) -> None:
    hook = _hook("generated")
    (tmp_path / "x.md").write_text("# Title\n\n## Part\n\n```sh\n# a comment\n```\n", encoding="utf-8")
    hook.ROOT = tmp_path
    assert hook.included("x.md") == "\n### Part\n\n```sh\n# a comment\n```\n"
