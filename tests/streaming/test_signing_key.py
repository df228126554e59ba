"""The signing key of a checkpoint directory: when it is gone while signed state remains, the
job refuses to start, names the key file and the ways out, and writes no new key; with
``discardState=true`` it gives that state up, says so, and counts only new data."""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest

from dstream import Conf, Context, StreamingContext
from dstream.streaming.checkpointing import MissingSigningKeyError

from .test_log_replay import Job, crash


@pytest.fixture(autouse=True)
def no_context_left() -> Any:
    yield
    active = StreamingContext.getActive()
    if active is not None:
        active.stop(stopSparkContext=True)


def keyless_conf() -> Conf:
    return (Conf().setMaster("local").setAppName("signing-key")
            .set("dstream.streaming.receiver.writeAheadLog.enable", "true")
            .set("dstream.streaming.receiver.writeAheadLog.rollingIntervalSecs", 4))


def run_and_lose_the_key(tmp_path: Any, conf: Conf) -> tuple[Job, str]:
    checkpoint = os.fspath(tmp_path / "ckpt")
    job = Job(checkpoint, conf)
    with Context.getOrCreate(conf):
        ssc = job.start(0)
        for _ in range(12):                      # past a data checkpoint (10 s)
            job.batch(ssc, [1])
        job.receiver.emit([50])                  # logged, not processed: signed with the key
        crash(ssc)
    key = os.path.join(checkpoint, "signing.key")
    os.remove(key)
    return job, key


def test_a_missing_key_next_to_signed_state_is_an_error_that_names_it(tmp_path: Any) -> None:
    conf = keyless_conf()
    job, key = run_and_lose_the_key(tmp_path, conf)
    with Context.getOrCreate(conf):
        with pytest.raises(MissingSigningKeyError) as error:
            job.start(12_000)
    message = str(error.value)
    assert key in message and "dstream.checkpoint.discardState=true" in message
    assert "dstream.checkpoint.key" in message and "no new key was written" in message
    assert not os.path.exists(key)


def test_discard_state_gives_up_the_old_state_with_a_warning_and_a_new_key(
        tmp_path: Any, caplog: Any) -> None:
    conf = keyless_conf()
    job, key = run_and_lose_the_key(tmp_path, conf)
    conf.set("dstream.checkpoint.discardState", "true")
    with Context.getOrCreate(conf), caplog.at_level(logging.WARNING):
        ssc = job.start(12_000)
        job.batch(ssc, [2, 3])
        ssc.stop(stopSparkContext=False)
    assert job.totals[13_000] == 5                   # a fresh state; the unverifiable block dropped
    assert os.path.exists(key)
    assert any("signing key" in r.getMessage() and key in r.getMessage() for r in caplog.records)
