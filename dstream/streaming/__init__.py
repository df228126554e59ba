"""Streaming: StreamingContext, DStreams and their operators, listeners."""

from .clock import Clock, ManualClock, SystemClock
from .context import StreamingContext
from .dstream import DStream, EventTimeDStream, EventWindowDStream
from .listener import BatchInfo, EventTimeInfo, OutputOperationInfo, ReceiverInfo, StreamingListener
from .stateful import State, StateSpec

__all__ = ["BatchInfo", "Clock", "DStream", "EventTimeDStream", "EventTimeInfo",
           "EventWindowDStream", "ManualClock", "OutputOperationInfo", "ReceiverInfo",
           "State", "StateSpec", "StreamingContext", "StreamingListener", "SystemClock"]
