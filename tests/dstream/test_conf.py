"""The settings registry: unknown and mistyped keys fail at Context creation naming the key,
the value and the closest known key; Spark names are read in Spark's units; Spark keys with
no meaning are logged once; every key the code reads is registered; the docs' configuration
page lists the generated table (tests/test_docs.py checks the built page)."""

from __future__ import annotations

import ast
import logging
import os
from typing import Any

import pytest

from dstream import Conf, Context
from dstream.conf import SETTINGS, SPARK_ALIASES, ConfError
from dstream.conf_doc import markdown_table

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("key, value, closest", [
    ("dstream.streaming.concurentJobs", "2", "dstream.streaming.concurrentJobs"),
    ("dstream.streaming.receiver.writeAheadLog.enabled", "true",
     "dstream.streaming.receiver.writeAheadLog.enable"),
    ("dstream.streaming.blockinterval", "100ms", "dstream.streaming.blockInterval"),
    ("dstream.task.maxFailure", "3", "dstream.task.maxFailures"),
])
def test_an_unknown_dstream_key_fails_at_context_creation_naming_the_closest_key(
        key: str, value: str, closest: str) -> None:
    with pytest.raises(ConfError) as info:
        Context("local", "conf-test", conf=Conf().set(key, value))
    message = str(info.value)
    assert key in message and repr(value) in message and f"did you mean {closest}?" in message
    assert Context._active_context() is None     # nothing was left running


@pytest.mark.parametrize("key, value, expected", [
    ("dstream.streaming.concurrentJobs", "two", "is not an integer"),
    ("dstream.streaming.receiver.writeAheadLog.enable", "yes please", "is not a boolean"),
    ("dstream.streaming.blockInterval", "fast", "is not a duration"),
    ("dstream.streaming.receiver.maxRate", "-5", "is not a non-negative number"),
    ("dstream.streaming.recovery.mode", "pickle", "is not one of rebuild, restore"),
    # under their Spark names, the message names the dstream key that reads them
    ("spark.streaming.backpressure.enabled", "maybe", "is not a boolean"),
    ("spark.streaming.blockInterval", "soon", "is not a duration"),
    ("spark.streaming.receiver.maxRate", "lots", "is not a non-negative number"),
])
def test_a_mistyped_value_fails_at_context_creation_naming_key_and_value(
        key: str, value: str, expected: str) -> None:
    with pytest.raises(ConfError) as info:
        Context("local", "conf-test", conf=Conf().set(key, value))
    message = str(info.value)
    setting = SETTINGS.get(key) or SPARK_ALIASES[key]
    assert message.startswith(f"{key}={value!r} {expected}"), message
    assert setting.key in message                 # under a Spark name: the dstream key too
    assert Context._active_context() is None


def test_spark_keys_without_a_meaning_are_logged_once_naming_the_key(caplog: Any) -> None:
    conf = (Conf().set("spark.streaming.unpersist", "false").set("spark.executor.memory", "4g")
            .set("spark.streaming.backpresure.enabled", "true"))
    with caplog.at_level(logging.WARNING, logger="dstream.conf"):
        with Context("local", "conf-test", conf=conf):
            pass
        with Context("local", "conf-test", conf=conf):
            pass
    warnings = [r.getMessage() for r in caplog.records if r.name == "dstream.conf"]
    for key in ("spark.streaming.unpersist", "spark.executor.memory"):
        assert sum(key + " has no meaning" in w for w in warnings) == 1, warnings
    typo = [w for w in warnings if "spark.streaming.backpresure.enabled" in w]
    assert len(typo) == 1 and "did you mean spark.streaming.backpressure.enabled?" in typo[0]


@pytest.mark.parametrize("spark_key, value, reader, expected", [
    ("spark.streaming.blockInterval", "50", "getSeconds", 0.05),          # bare: ms, as in Spark
    ("spark.streaming.blockInterval", "1s", "getSeconds", 1.0),
    ("spark.streaming.gracefulStopTimeout", "1500", "getSeconds", 1.5),   # bare: ms
    ("spark.streaming.receiver.writeAheadLog.rollingIntervalSecs", "5", "getSeconds", 5.0),
    ("spark.streaming.receiver.maxRate", "250", "getFloat", 250.0),
    ("spark.streaming.kafka.maxRatePerPartition", "40", "getFloat", 40.0),
    ("spark.streaming.receiver.writeAheadLog.enable", "true", "getBoolean", True),
    ("spark.streaming.clock", "org.apache.spark.util.ManualClock", "get", "manual"),
    ("spark.task.maxFailures", "7", "getInt", 7),
])
def test_a_value_under_its_spark_name_is_read_under_the_dstream_key_in_sparks_units(
        spark_key: str, value: str, reader: str, expected: Any) -> None:
    key = SPARK_ALIASES[spark_key].key
    conf = Conf().set(spark_key, value)
    conf.validate()
    assert getattr(conf, reader)(key) == expected
    assert getattr(conf, reader)(key) != SETTINGS[key].default


def test_the_dstream_key_wins_over_the_spark_name() -> None:
    conf = Conf().set("spark.streaming.concurrentJobs", "3").set("dstream.streaming.concurrentJobs", "2")
    assert conf.getInt("dstream.streaming.concurrentJobs", 1) == 2


def test_getters_without_a_default_use_the_registry_and_refuse_unregistered_keys() -> None:
    conf = Conf()
    assert conf.getInt("dstream.streaming.ui.retainedBatches") == 1000
    assert conf.getSeconds("dstream.streaming.blockInterval") == 0.2
    assert conf.getInt("dstream.not.registered", 5) == 5          # call sites with a default
    with pytest.raises(ConfError, match="dstream.not.registered"):
        conf.getInt("dstream.not.registered")


def _conf_reads() -> list[tuple[str, int, str, Any]]:
    """(file, line, key, default) of every ``….getX("dstream.…", default)`` in the package."""
    getters = {"get", "getInt", "getFloat", "getBoolean", "getSeconds"}
    reads = []
    for folder in ("dstream", "receivers", "checkpoint", "service"):
        for root, _dirs, files in os.walk(os.path.join(REPO, folder)):
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as f:
                    tree = ast.parse(f.read())
                constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                             and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
                             for t in n.targets if isinstance(t, ast.Name)}
                for node in ast.walk(tree):
                    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                            and node.func.attr in getters and node.args):
                        continue
                    first = node.args[0]
                    key = (first.value if isinstance(first, ast.Constant)
                           else constants.get(first.id) if isinstance(first, ast.Name) else None)
                    if isinstance(key, str) and key.startswith("dstream."):
                        default: Any = "?"
                        if len(node.args) > 1:
                            try:
                                default = eval(compile(ast.Expression(node.args[1]), path, "eval"), {})
                            except Exception:
                                default = "?"
                        reads.append((os.path.relpath(path, REPO), node.lineno, key, default))
    return reads


def test_every_key_the_code_reads_is_registered_with_the_default_it_reads() -> None:
    reads = _conf_reads()
    assert len(reads) >= 25 and "dstream.checkpoint.discardState" in {r[2] for r in reads}
    unregistered = [r for r in reads if r[2] not in SETTINGS]
    assert not unregistered, f"add these keys to dstream.conf.SETTINGS: {unregistered}"
    for path, line, key, default in reads:
        registered = SETTINGS[key].default
        if default == "?" or (registered is None and default in (None, 0, 0.0)):
            continue
        assert default == registered, f"{path}:{line} reads {key} with default {default!r}, " \
                                      f"the registry says {registered!r}"


def test_the_configuration_page_takes_the_generated_table() -> None:
    with open(os.path.join(REPO, "docs", "configuration.md"), encoding="utf-8") as f:
        page = f.read()
    assert page.count("<!-- settings table -->") == 1
    assert "| `dstream." not in page, "docs/configuration.md holds a hand-written settings row"
    table = markdown_table()
    for setting in SETTINGS.values():
        assert f"| `{setting.key}` |" in table
