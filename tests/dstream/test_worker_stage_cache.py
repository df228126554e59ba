"""The ``local[N]`` worker's cache of stage code: stages the driver forgot leave it with the
next task (else it holds 64 finished stages' lineage, several MiB), and a stage in use stays."""

from __future__ import annotations

import pickle
import threading
from multiprocessing import Pipe
from typing import Any

from dstream import Context
from dstream.executors.worker import serve
from dstream.scheduler.task import StageBinary
from dstream.serialization import dumps_code, dumps_data


def test_a_forgotten_stage_leaves_the_worker_and_a_used_one_stays() -> None:
    to_worker, worker_in = Pipe()
    worker_out, from_worker = Pipe()
    thread = threading.Thread(target=serve, args=(worker_in, worker_out), daemon=True)
    thread.start()
    with Context("local", "stage-cache") as ctx:
        rdd = ctx.parallelize([1, 2, 3], 1)
        inputs = dumps_data({(rdd.id, 0): [1, 2, 3]})

        def run(stage_id: int, code: bool, forget: list[int]) -> Any:
            stage = StageBinary(stage_id, "result", rdd, lambda _, it: sum(it) + stage_id, None, "")
            to_worker.send_bytes(pickle.dumps(
                (stage_id, dumps_code(stage) if code else None, 0, 0, inputs, forget)))
            status, *rest = pickle.loads(from_worker.recv_bytes())
            return pickle.loads(rest[0]).value if status == "ok" else rest[2]

        assert run(1, True, []) == 7
        assert run(1, False, []) == 7                 # held: no code needed
        assert run(2, True, [1]) == 8                 # stage 1 forgotten with this task
        assert run(1, False, []) == "stage 1 code was not sent to this worker"
        assert run(2, False, []) == 8                 # stage 2 still held
    to_worker.close()
    thread.join(timeout=10)
    assert not thread.is_alive()
