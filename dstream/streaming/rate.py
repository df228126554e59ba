"""Backpressure: a PID controller that sets each receiver's rate from how batches went.

After every batch it compares the input rate with the rate the job actually processed at,
and with the backlog implied by the scheduling delay, and lowers or raises the receivers'
limit (records/s per receiver) so that processing time settles under the batch interval.

>>> pid = PIDRateEstimator(batch_ms=1000, min_rate=10)
>>> pid.compute(1000, 5000, 2000, 0) is None        # first batch: learns the processing rate
True
>>> round(pid.compute(2000, 5000, 2000, 1000))       # falling behind: the limit goes down
2000
"""

from __future__ import annotations

__all__ = ["PIDRateEstimator"]


class PIDRateEstimator:
    """Proportional-integral-derivative estimate of a sustainable input rate (records/s)."""

    def __init__(self, batch_ms: int, proportional: float = 1.0, integral: float = 0.2,
                 derivative: float = 0.0, min_rate: float = 100.0) -> None:
        if batch_ms <= 0:
            raise ValueError(f"batch_ms must be positive, got {batch_ms}")
        if min_rate <= 0:
            raise ValueError(f"minimum rate must be positive, got {min_rate}")
        self.batch_ms = batch_ms
        self.kp, self.ki, self.kd = proportional, integral, derivative
        self.min_rate = min_rate
        self._first = True
        self._latest_time = -1
        self._latest_rate = -1.0
        self._latest_error = -1.0

    def compute(self, time_ms: int, num_records: int, processing_ms: int,
                scheduling_delay_ms: int) -> float | None:
        """The new rate after the batch of ``time_ms``, or None when there is nothing to learn."""
        if time_ms <= self._latest_time or num_records <= 0 or processing_ms <= 0:
            return None
        since_update = (time_ms - self._latest_time) / 1000
        processing_rate = num_records / processing_ms * 1000
        error = self._latest_rate - processing_rate
        backlog_error = scheduling_delay_ms * processing_rate / self.batch_ms
        d_error = (error - self._latest_error) / since_update
        new_rate = max(self._latest_rate - self.kp * error - self.ki * backlog_error - self.kd * d_error,
                       self.min_rate)
        self._latest_time = time_ms
        if self._first:
            self._first = False
            self._latest_rate, self._latest_error = processing_rate, 0.0
            return None
        self._latest_rate, self._latest_error = new_rate, error
        return new_rate
