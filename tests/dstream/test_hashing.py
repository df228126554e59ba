"""PySpark's portable hash: the same partition for a key in every process and every run."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dstream import Context, HashPartitioner, portable_hash
from dstream.hashing import string_hash_seed0

from .conftest import PROPERTY_SETTINGS


def seed0_hashes(values: list) -> list[int]:
    """``hash(v)`` for each value, computed by a fresh interpreter with PYTHONHASHSEED=0."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    code = ("import pickle, sys; values = pickle.load(sys.stdin.buffer); "
            "pickle.dump([hash(v) for v in values], sys.stdout.buffer)")
    done = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(values), env=env,
                          capture_output=True, check=True, timeout=60)
    return pickle.loads(done.stdout)


def pyspark_portable_hash(x) -> int:
    """``pyspark.rdd.portable_hash``, verbatim apart from the string hash it calls."""
    if x is None:
        return 0
    if isinstance(x, tuple):
        h = 0x345678
        for i in x:
            h ^= pyspark_portable_hash(i)
            h *= 1000003
            h &= sys.maxsize
        h ^= len(x)
        if h == -1:
            h = -2
        return int(h)
    if isinstance(x, (str, bytes)):
        return string_hash_seed0(x)
    return hash(x)


def random_strings(rng: random.Random, count: int) -> list[str]:
    """Strings of every internal width: ASCII, Latin-1, BMP, non-BMP, lone surrogates."""
    ranges = [(0x20, 0x7E), (0x00, 0xFF), (0x100, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF),
              (0xD800, 0xDFFF)]
    out = []
    for i in range(count):
        length = rng.choice([0, 1, 2, 7, 8, 9, 15, 16, 17, 40, 200])
        picks = rng.sample(ranges, rng.randint(1, 3))
        out.append("".join(chr(rng.randint(*rng.choice(picks))) for _ in range(length)))
    return out


def test_string_hash_matches_a_seed0_interpreter() -> None:
    rng = random.Random(20240601)
    strings = random_strings(rng, 400) + ["", "a", "hello", "é", "€", "😀", "\ud800", "a\udfff😀"]
    blobs = [s.encode("utf-8", "surrogatepass") for s in strings[:100]] + [b"", b"\x00" * 9]
    values = strings + blobs
    assert [string_hash_seed0(v) for v in values] == seed0_hashes(values)


@settings(PROPERTY_SETTINGS, max_examples=15)     # each example starts an interpreter
@given(st.lists(st.text(alphabet=st.characters(exclude_categories=()), max_size=30), min_size=1,
                max_size=50))
def test_string_hash_matches_a_seed0_interpreter_property(strings: list[str]) -> None:
    assert [string_hash_seed0(s) for s in strings] == seed0_hashes(strings)


def test_keys_of_every_kind_hash_as_pyspark() -> None:
    rng = random.Random(3)
    keys = [None, 0, 1, -1, -2, 2**63, -(2**70), 3.5, -0.0, True, (), ("a",), ("a", 1, None),
            (("x", "y"), (1, (2, "z"))), (-1,), frozenset({1, 2})] + random_strings(rng, 20)
    keys += [tuple(random_strings(rng, 3)) for _ in range(10)]
    assert [portable_hash(k) for k in keys] == [pyspark_portable_hash(k) for k in keys]
    hashes = seed0_hashes(keys)
    for key, expected in zip(keys, hashes):
        if not isinstance(key, tuple):       # tuples: PySpark's own combination, not hash()
            assert portable_hash(key) == (0 if key is None else expected), key


def test_none_minus_one_and_tuples() -> None:
    assert portable_hash(None) == 0
    assert portable_hash(-1) == portable_hash(-2) == -2
    assert portable_hash((1, 2)) == pyspark_portable_hash((1, 2))
    assert portable_hash((None,)) == ((0x345678 ^ 0) * 1000003 & sys.maxsize) ^ 1
    assert HashPartitioner(7)(-1) == HashPartitioner(7)(-2) == (-2) % 7
    assert all(0 <= HashPartitioner(5)(k) < 5 for k in range(-20, 20))


@pytest.mark.parametrize("master", ["local", "local[2]"])
def test_workers_and_driver_agree(master: str) -> None:
    rng = random.Random(11)
    keys = random_strings(rng, 60) + [(s, i) for i, s in enumerate(random_strings(rng, 20))]
    with Context(master, "hashing") as ctx:
        assert ctx.parallelize(keys, 4).map(portable_hash).collect() == [portable_hash(k) for k in keys]
        parts = ctx.parallelize([(k, None) for k in keys], 3).partitionBy(6).glom().collect()
    for split, part in enumerate(parts):
        assert all(portable_hash(k) % 6 == split for k, _ in part)
