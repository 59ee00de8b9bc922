"""Bidirectional streams that answer each request independently, with bounded memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import TypeVar

Request = TypeVar("Request")
Response = TypeVar("Response")

#: Requests of one stream that may be in flight (read but not yet answered). Past it the
#: server stops reading, so a client that does not read its responses is pushed back on
#: through HTTP/2 flow control instead of filling server memory.
STREAM_WINDOW = 64


async def answer_each(
    requests: AsyncIterable[Request], answer: Callable[[Request], Awaitable[Response]]
) -> AsyncIterator[Response]:
    """Answer every request concurrently; yield responses in completion order.

    `answer` must not raise (a failed request becomes an error response). The iterator ends
    once the client has half-closed and every response has been yielded.
    """
    answers: asyncio.Queue = asyncio.Queue()
    window = asyncio.Semaphore(STREAM_WINDOW)
    finished = object()

    async def answer_into_queue(request: Request) -> None:
        await answers.put(await answer(request))

    async def read() -> None:
        pending: set[asyncio.Task] = set()
        try:
            async for request in requests:
                await window.acquire()
                task = asyncio.create_task(answer_into_queue(request))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.gather(*pending)
            await answers.put(finished)
        except BaseException as err:  # surface reader failures to the writer
            for task in pending:
                task.cancel()
            await answers.put(err)
            raise

    reader = asyncio.create_task(read())
    try:
        while (response := await answers.get()) is not finished:
            if isinstance(response, BaseException):
                raise response
            yield response
            window.release()
    finally:
        reader.cancel()
