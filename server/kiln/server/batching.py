"""Dynamic batching: queued requests for one model run together, padded to a compiled bucket.

The event loop only queues requests and resolves their futures. The model's worker thread
(`kiln.server.worker.ModelWorker`) takes each batch itself as soon as it is free, assembles
and pads it, calls the model (JAX releases the GIL), slices the results and hands the whole
batch back to the event loop in one callback.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kiln.client.tensors import DTYPES_BY_NAME
from kiln.server.errors import DeadlineExpired, KilnError, ModelFailed, ModelNotReady, Overloaded
from kiln.server.plugin import Model, ModelSpec
from kiln.server.stats import InferenceStats
from kiln.server.worker import ModelWorker

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
    finish: Callable[[dict[str, np.ndarray]], Any]
    enqueued_ns: int = field(default_factory=time.perf_counter_ns)


@dataclass
class _Batch:
    """What the worker took from the queue in one go."""

    items: list[_Pending]
    expired: list[_Pending]
    abandoned: int
    started_ns: int = 0
    results: list[Any] = field(default_factory=list)
    error: KilnError | None = None


class DynamicBatcher:
    """Queues Predict requests for one model version and runs them in padded batches.

    Args:
        model: The loaded model.
        spec: Its spec (signature and compiled buckets).
        buckets: Compiled batch sizes, ascending.
        max_batch_size: Most items in one model call.
        max_queue_delay_s: How long the oldest request waits for company, always.
        busy_queue_delay_s: Without a fixed delay: while the last batch held more than one
            request, how long the oldest request may wait for the queue to hold as many
            items as that batch did.
        max_queue_size: Waiting requests beyond this are refused (RESOURCE_EXHAUSTED).
        worker: The model's worker thread; it takes the batches.
        stats: Counters to update.
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
        busy_queue_delay_s: float = 0.0,
        worker: ModelWorker,
        stats: InferenceStats,
    ) -> None:
        self._model = model
        self._spec = spec
        self._buckets = buckets
        self._max_batch = max_batch_size
        self._delay_ns = int(max_queue_delay_s * 1e9)
        self._busy_delay_ns = int(busy_queue_delay_s * 1e9)
        # The last batch's request and item counts; guarded by the worker's lock.
        self._last_requests = 0
        self._last_items = 0
        self._max_queue = max_queue_size
        self._worker = worker
        self._stats = stats
        self._queue: deque[_Pending] = deque()
        # Items ever queued (written by the event loop only) and ever taken (worker only).
        self._items_in = 0
        self._items_out = 0
        # How many queued items the sleeping worker waits for (worker writes, loop reads).
        self._wake_items = 1
        self._outstanding = 0  # submitted, answer not yet delivered; event loop only
        self._closed = False
        self._drained: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start taking batches; call on the event loop that will submit requests."""
        self._loop = asyncio.get_running_loop()
        self._drained = asyncio.Event()
        self._worker.attach(self)

    async def submit(
        self,
        inputs: Mapping[str, np.ndarray],
        size: int,
        deadline: float | None = None,
        finish: Callable[[dict[str, np.ndarray]], Any] = dict,
    ) -> Any:
        """Queue one validated request of `size` items and wait for ``finish(outputs)``.

        Args:
            deadline: Absolute `time.monotonic()` after which the request is dropped unrun
                (the worker compares it when it takes the batch).
            finish: Called on the worker thread with the request's slice of the outputs;
                its result is what `submit` returns (the outputs themselves by default).
        """
        if self._closed or self._loop is None:
            raise ModelNotReady(f"model {self._spec.name!r} is unloading; retry shortly")
        if len(self._queue) >= self._max_queue:
            raise Overloaded(
                f"model {self._spec.name!r} has {len(self._queue)} requests queued; retry later",
                metadata={"retry_after_ms": str(max(1, self._delay_ns // 500_000))},
            )
        future = self._loop.create_future()
        # No lock while the worker is busy: deque appends are atomic. The worker marks itself
        # waiting before it looks at the queue and then says how many items it waits for
        # (_wake_items), so it is woken as soon as they are here, and never misses one.
        self._queue.append(_Pending(inputs, size, future, deadline, finish))
        self._items_in += size
        if self._items_in - self._items_out >= self._wake_items:
            self._worker.wake()
        self._outstanding += 1
        return await future

    async def close(self) -> None:
        """Refuse new requests, finish the queued ones, then stop taking batches."""
        self._closed = True
        with self._worker.condition:
            self._worker.condition.notify()  # stop waiting for company
        if self._outstanding and self._drained is not None:
            await self._drained.wait()
        self._worker.attach(None)

    def take(self) -> tuple[Callable[[], None] | None, float | None]:
        """On the worker thread, its lock held: the next batch to run, or how long to wait."""
        # Any arrival wakes the worker until it is known to wait for more: set before the
        # queue is looked at, so an item queued meanwhile cannot be missed.
        self._wake_items = 1
        if not self._queue:
            return None, None
        delay_ns = self._company_delay_ns()
        if delay_ns:
            wait_ns = self._queue[0].enqueued_ns + delay_ns - time.perf_counter_ns()
            if wait_ns > 0:
                self._wake_items = self._company_items()
                return None, wait_ns / 1e9
        batch = _Batch([], [], 0)
        total = 0
        now = time.monotonic()
        while self._queue and total + self._queue[0].size <= self._max_batch:
            item = self._queue.popleft()
            self._items_out += item.size
            if item.future.done():  # the caller went away
                batch.abandoned += 1
            elif item.deadline is not None and item.deadline <= now:
                batch.expired.append(item)
            else:
                batch.items.append(item)
                total += item.size
        self._last_requests, self._last_items = len(batch.items), total
        return (lambda: self._execute(batch)), None

    def _company_delay_ns(self) -> int:
        """How long the oldest queued request should wait for company (worker's lock held)."""
        queued = self._items_in - self._items_out
        if self._closed or queued >= self._max_batch:
            return 0
        if self._delay_ns:
            return self._delay_ns
        if self._last_requests > 1 and queued < self._last_items:
            return self._busy_delay_ns
        return 0

    def _company_items(self) -> int:
        """While waiting for company: the queued items that end the wait early."""
        return self._max_batch if self._delay_ns else self._last_items

    def _execute(self, batch: _Batch) -> None:
        """On the worker thread: run the batch, then hand it to the event loop."""
        batch.started_ns = time.perf_counter_ns()
        if batch.items:
            try:
                batch.results = self._run_batch(batch.items)
            except Exception:
                log.exception(
                    "model %r failed on a batch of %d requests", self._spec.name, len(batch.items)
                )
                batch.error = ModelFailed(f"model {self._spec.name!r} failed; see the server log")
        assert self._loop is not None
        # A closed event loop (server shut down) has nobody left to answer.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._deliver, batch)

    def _deliver(self, batch: _Batch) -> None:
        """On the event loop: resolve the batch's futures."""
        for item in batch.expired:
            if not item.future.done():
                item.future.set_exception(
                    DeadlineExpired("the request's deadline passed while it was queued")
                )
        now = time.perf_counter_ns()
        self._stats.record_requests(
            batch.error is None,
            [now - item.enqueued_ns for item in batch.items],
            [batch.started_ns - item.enqueued_ns for item in batch.items],
        )
        if batch.error is not None:
            for item in batch.items:
                if not item.future.done():
                    item.future.set_exception(batch.error)
        else:
            for item, result in zip(batch.items, batch.results, strict=True):
                if not item.future.done():
                    item.future.set_result(result)
        self._outstanding -= len(batch.items) + len(batch.expired) + batch.abandoned
        if self._closed and not self._outstanding and self._drained is not None:
            self._drained.set()

    def _run_batch(self, batch: list[_Pending]) -> list[Any]:
        """On the worker thread: assemble, pad, predict, slice, finish each request."""
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
        arrays = {name: np.asarray(value) for name, value in outputs.items()}
        results, offset = [], 0
        for item in batch:
            end = offset + item.size
            results.append(item.finish({name: array[offset:end] for name, array in arrays.items()}))
            offset = end
        t3 = time.perf_counter_ns()
        self._stats.record_batch(total, t1 - t0, t2 - t1, t3 - t2)
        return results
