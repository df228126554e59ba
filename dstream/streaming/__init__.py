"""Streaming: StreamingContext, DStreams and their operators, listeners."""

from .clock import Clock, ManualClock, SystemClock
from .context import StreamingContext
from .dstream import DStream
from .listener import BatchInfo, OutputOperationInfo, ReceiverInfo, StreamingListener
from .stateful import State, StateSpec

__all__ = ["BatchInfo", "Clock", "DStream", "ManualClock", "OutputOperationInfo", "ReceiverInfo",
           "State", "StateSpec", "StreamingContext", "StreamingListener", "SystemClock"]
