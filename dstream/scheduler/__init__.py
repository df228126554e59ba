"""The DAG scheduler: jobs split into stages at shuffles, stages into one task a partition."""

from .dag import DAGScheduler
from .task import StageBinary, TaskResult, run_task

__all__ = ["DAGScheduler", "StageBinary", "TaskResult", "run_task"]
