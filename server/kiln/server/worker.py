"""The one thread per loaded model version that makes every call into the model.

Two kinds of work share it and never overlap: jobs submitted as to any executor (load,
warm-up, generation steps, PNG encoding, unload) and predict batches, which the thread
takes from its batch source (the model's `DynamicBatcher`) by itself. Taking batches on
this thread means the next batch starts the moment the previous one ends, without a round
trip through the event loop, while the loop sends the previous batch's answers.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, Protocol


class BatchSource(Protocol):
    """Where a `ModelWorker` takes predict batches from (the model's batcher)."""

    def take(self) -> tuple[Callable[[], None] | None, float | None]:
        """Called with the worker's lock held: the next batch's work, or how long to wait.

        Returns:
            ``(work, None)`` to run `work` now (outside the lock); ``(None, seconds)`` to be
            asked again after that long at the latest; ``(None, None)`` when nothing waits.
        """
        ...


class ModelWorker(Executor):
    """A single-thread executor that also runs its batch source's batches.

    Jobs and batches alternate when both are waiting, so neither starves the other. After
    `shutdown` no job is accepted; the jobs already queued still run.

    Args:
        name: Thread name (shows in profilers and thread dumps).
    """

    def __init__(self, name: str) -> None:
        self._condition = threading.Condition()
        self._jobs: deque[tuple[Future, Callable[..., Any], tuple, dict]] = deque()
        self._source: BatchSource | None = None
        self._stopping = False
        self._waiting = False  # the thread is (about to be) asleep on the condition
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    @property
    def condition(self) -> threading.Condition:
        """The lock guarding the worker's queues (jobs; its batch source's `take`)."""
        return self._condition

    def wake(self) -> None:
        """Wake the thread if it sleeps or is deciding to; call after queuing a batch item.

        Costs nothing while the thread is busy (no lock is taken then), which is most of
        the time under load.
        """
        if self._waiting:
            with self._condition:
                self._condition.notify()

    def attach(self, source: BatchSource | None) -> None:
        """Take predict batches from `source` from now on (None: stop taking them)."""
        with self._condition:
            self._source = source
            self._condition.notify()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Queue `fn(*args, **kwargs)` to run on the worker thread."""
        future: Future = Future()
        with self._condition:
            if self._stopping:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._jobs.append((future, fn, args, kwargs))
            self._condition.notify()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting jobs; finish (or with `cancel_futures`, cancel) the queued ones."""
        with self._condition:
            self._stopping = True
            if cancel_futures:
                while self._jobs:
                    self._jobs.popleft()[0].cancel()
            self._condition.notify()
        if wait and threading.current_thread() is not self._thread:
            self._thread.join()

    def _next(self, job_turn: bool) -> tuple[Callable[[], None] | None, bool]:
        """Wait for the next piece of work; (None, _) means the worker should exit."""
        with self._condition:
            try:
                while True:
                    if self._jobs and (job_turn or self._source is None):
                        return self._job(), True
                    wait = None
                    if self._source is not None:
                        # Set before the source looks at its queue: whatever it queues after
                        # the look sees the flag and wakes this thread (see `wake`).
                        self._waiting = True
                        work, wait = self._source.take()
                        if work is not None:
                            return work, False
                    if self._jobs:
                        return self._job(), True
                    if self._stopping:
                        return None, False
                    self._waiting = True
                    self._condition.wait(wait)
            finally:
                self._waiting = False

    def _job(self) -> Callable[[], None]:
        future, fn, args, kwargs = self._jobs.popleft()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as err:
                future.set_exception(err)
            else:
                future.set_result(result)

        return run

    def _serve(self) -> None:
        last_was_job = False
        while True:
            work, last_was_job = self._next(job_turn=not last_was_job)
            if work is None:
                return
            work()
