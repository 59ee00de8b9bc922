"""Dynamic batching: queued requests for one model run together, padded to a compiled bucket.

The event loop only queues and resolves futures; assembling the batch, the model call and
slicing the results happen on the model's own worker thread (JAX releases the GIL).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from kiln.client.tensors import DTYPES_BY_NAME
from kiln.server.errors import DeadlineExpired, ModelFailed, ModelNotReady, Overloaded
from kiln.server.plugin import Model, ModelSpec
from kiln.server.stats import InferenceStats

log = logging.getLogger(__name__)


def bucket_for(buckets: tuple[int, ...], size: int) -> int:
    """Smallest bucket that holds `size` items (buckets ascending)."""
    return buckets[bisect.bisect_left(buckets, size)]


def zero_batch(spec: ModelSpec, size: int) -> dict[str, np.ndarray]:
    """A batch of zeros matching the input signature (free dims taken as 1)."""
    return {
        t.name: np.zeros((size, *(max(d, 1) for d in t.shape[1:])), dtype=DTYPES_BY_NAME[t.dtype])
        for t in spec.inputs
    }


@dataclass
class _Pending:
    inputs: Mapping[str, np.ndarray]
    size: int
    future: asyncio.Future
    deadline: float | None
    enqueued_ns: int = field(default_factory=time.perf_counter_ns)


class DynamicBatcher:
    """Queues Predict requests for one model version and runs them in padded batches.

    Args:
        model: The loaded model.
        spec: Its spec (signature and compiled buckets).
        buckets: Compiled batch sizes, ascending.
        max_batch_size: Most items in one model call.
        max_queue_delay_s: How long the oldest request may wait for company.
        max_queue_size: Waiting requests beyond this are refused (RESOURCE_EXHAUSTED).
        executor: The model's single worker thread.
        stats: Counters to update.
        on_batch: Called with each executed batch size (tests and metrics).
    """

    def __init__(
        self,
        model: Model,
        spec: ModelSpec,
        *,
        buckets: tuple[int, ...],
        max_batch_size: int,
        max_queue_delay_s: float,
        max_queue_size: int,
        executor: Executor,
        stats: InferenceStats,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._model = model
        self._spec = spec
        self._buckets = buckets
        self._max_batch = max_batch_size
        self._delay = max_queue_delay_s
        self._max_queue = max_queue_size
        self._executor = executor
        self._stats = stats
        self._on_batch = on_batch
        self._queue: deque[_Pending] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"batcher-{self._spec.name}"
        )

    @property
    def queue_depth(self) -> int:
        """Requests waiting for a batch."""
        return len(self._queue)

    async def submit(
        self, inputs: Mapping[str, np.ndarray], size: int, deadline: float | None = None
    ) -> dict[str, np.ndarray]:
        """Queue one validated request of `size` items and wait for its outputs.

        Args:
            deadline: Absolute `loop.time()` after which the request is dropped unrun.
        """
        if self._closed:
            raise ModelNotReady(f"model {self._spec.name!r} is unloading; retry shortly")
        if len(self._queue) >= self._max_queue:
            raise Overloaded(
                f"model {self._spec.name!r} has {len(self._queue)} requests queued; retry later",
                metadata={"retry_after_ms": str(max(1, int(self._delay * 1000) * 2))},
            )
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(inputs, size, future, deadline))
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        """Finish queued work, then stop the loop."""
        self._closed = True
        self._wakeup.set()
        if self._task:
            await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closed:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._wait_for_company(loop)
            batch = self._take_batch(loop)
            if batch:
                await self._execute(batch)

    async def _wait_for_company(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give the oldest request up to max_queue_delay to be joined by others."""
        until = loop.time() + self._delay
        while not self._closed and sum(p.size for p in self._queue) < self._max_batch:
            remaining = until - loop.time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)

    def _take_batch(self, loop: asyncio.AbstractEventLoop) -> list[_Pending]:
        batch: list[_Pending] = []
        total = 0
        now = loop.time()
        while self._queue and total + self._queue[0].size <= self._max_batch:
            item = self._queue.popleft()
            if item.future.done():  # the caller went away
                continue
            if item.deadline is not None and item.deadline <= now:
                item.future.set_exception(
                    DeadlineExpired("the request's deadline passed while it was queued")
                )
                continue
            batch.append(item)
            total += item.size
        return batch

    async def _execute(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter_ns()
        try:
            outputs = await loop.run_in_executor(self._executor, self._run_batch, batch)
        except Exception:
            log.exception("model %r failed on a batch of %d requests", self._spec.name, len(batch))
            failure = ModelFailed(f"model {self._spec.name!r} failed; see the server log")
            for item in batch:
                self._stats.record_request(False, time.perf_counter_ns() - item.enqueued_ns)
                if not item.future.done():
                    item.future.set_exception(failure)
            return
        for item, result in zip(batch, outputs, strict=True):
            self._stats.record_request(
                True, time.perf_counter_ns() - item.enqueued_ns, started - item.enqueued_ns
            )
            if not item.future.done():
                item.future.set_result(result)

    def _run_batch(self, batch: list[_Pending]) -> list[dict[str, np.ndarray]]:
        """On the worker thread: assemble, pad, predict, slice."""
        t0 = time.perf_counter_ns()
        total = sum(item.size for item in batch)
        bucket = bucket_for(self._buckets, total)
        padded = {}
        for tensor in self._spec.inputs:
            parts = [item.inputs[tensor.name] for item in batch]
            first = parts[0]
            if len(parts) == 1 and total == bucket:
                padded[tensor.name] = first
                continue
            out = np.zeros((bucket, *first.shape[1:]), dtype=first.dtype)
            np.concatenate(parts, axis=0, out=out[:total])
            padded[tensor.name] = out
        t1 = time.perf_counter_ns()
        outputs = self._model.predict(padded)
        t2 = time.perf_counter_ns()
        results, offset = [], 0
        for item in batch:
            results.append(
                {k: np.asarray(v)[offset : offset + item.size] for k, v in outputs.items()}
            )
            offset += item.size
        t3 = time.perf_counter_ns()
        self._stats.record_batch(total, t1 - t0, t2 - t1, t3 - t2)
        if self._on_batch:
            self._on_batch(bucket)
        return results
