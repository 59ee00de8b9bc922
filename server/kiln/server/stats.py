"""Per-model-version counters: what Triton's statistics extension and metrics report."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Duration:
    """A count of occurrences and their total time in nanoseconds."""

    count: int = 0
    ns: int = 0

    def add(self, ns: int, count: int = 1) -> None:
        """Record `count` occurrences taking `ns` nanoseconds in all."""
        self.count += count
        self.ns += ns


@dataclass
class BatchDurations:
    """Time spent per phase for batches of one size."""

    compute_input: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)
    compute_output: Duration = field(default_factory=Duration)


@dataclass
class InferenceStats:
    """Cumulative counters for one model version (thread-safe updates)."""

    success: Duration = field(default_factory=Duration)
    fail: Duration = field(default_factory=Duration)
    queue: Duration = field(default_factory=Duration)
    compute_input: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)
    compute_output: Duration = field(default_factory=Duration)
    inference_count: int = 0
    execution_count: int = 0
    last_inference_ms: int = 0
    batches: dict[int, BatchDurations] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_batch(self, size: int, input_ns: int, infer_ns: int, output_ns: int) -> None:
        """Record one model execution over `size` items (padding excluded)."""
        with self._lock:
            self.execution_count += 1
            self.inference_count += size
            self.compute_input.add(input_ns, size)
            self.compute_infer.add(infer_ns, size)
            self.compute_output.add(output_ns, size)
            per_size = self.batches.setdefault(size, BatchDurations())
            per_size.compute_input.add(input_ns)
            per_size.compute_infer.add(infer_ns)
            per_size.compute_output.add(output_ns)

    def record_requests(self, ok: bool, total_ns: list[int], queue_ns: list[int]) -> None:
        """Record finished requests (one batch's), all successful or all failed."""
        if not total_ns:
            return
        with self._lock:
            (self.success if ok else self.fail).add(sum(total_ns), len(total_ns))
            if ok:
                self.queue.add(sum(queue_ns), len(queue_ns))
            self.last_inference_ms = time.time_ns() // 1_000_000
