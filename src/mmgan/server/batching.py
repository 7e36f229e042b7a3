"""MicroBatcher: gathers concurrent requests into one model call.

Requests wait in a queue. When the model is free the worker takes the first request, then everything that
is already queued, waiting at most `max_wait_ms` for company, up to `max_batch` units (images). While the
model is busy, newcomers pile up and go together in the next call, so one request alone pays at most
`max_wait_ms` and many concurrent requests share a call. The batch function runs in a thread (the event
loop keeps serving) on one executor that all models share, so two cores are not oversubscribed.

    batcher = MicroBatcher(run_batch, max_batch=64, max_wait_ms=2, executor=pool, size=lambda job: job.n)
    await batcher.start()
    result = await batcher.submit(job)     # run_batch([... job ...]) -> [... result ...], one per job, in order

An optional second stage, `finish(jobs, results) -> results` on its own executor (the store writes), runs
while the model already works on the next batch. Batches that finish generating while a write is under way
wait and go together in the next write (stores pay per call); at most `max_finishing` batches wait
(backpressure: the model pauses when the store falls behind).
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor
from typing import Any, Callable, Hashable, Sequence


class BatcherClosed(RuntimeError):
    pass


class MicroBatcher:
    def __init__(self, run_batch: Callable[[list], Sequence[Any]], max_batch: int = 64, max_wait_ms: float = 2.0,
                 executor: Executor | None = None, size: Callable[[Any], int] = lambda job: 1,
                 group: Callable[[Any], Hashable] = lambda job: None,
                 on_batch: Callable[[int, float], None] | None = None,
                 on_queue: Callable[[int], None] | None = None,
                 finish: Callable[[list, list], Sequence[Any]] | None = None,
                 finish_executor: Executor | None = None, max_finishing: int = 4):
        self.run_batch = run_batch
        self.finish, self.finish_executor, self.max_finishing = finish, finish_executor, max_finishing
        self._finish_q: asyncio.Queue | None = None          # (batch, results) waiting for the finish stage
        self._finishing: list = []                           # (job, future) pairs in the finish call now
        self._finish_slots: asyncio.Semaphore | None = None
        self._finisher: asyncio.Task | None = None
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000.0
        self.executor, self.size, self.group = executor, size, group
        self.on_batch, self.on_queue = on_batch, on_queue
        self._queue: asyncio.Queue | None = None
        self._carry: list = []                 # (job, future) that did not fit the last batch
        self._inflight: list = []              # (job, future) in the model call now
        self._task: asyncio.Task | None = None
        self._queued_units = 0
        self.batches = 0

    # ---- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._queue = asyncio.Queue()
            self._finish_q = asyncio.Queue()
            self._finish_slots = asyncio.Semaphore(self.max_finishing)
            if self.finish is not None:
                self._finisher = asyncio.create_task(self._finish_worker(), name="mmgan-batcher-finish")
            self._task = asyncio.create_task(self._worker(), name="mmgan-batcher")

    async def stop(self) -> None:
        pending_inflight = list(self._inflight) + list(self._finishing)
        for task in (self._task, self._finisher):
            if task is not None:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        self._task = self._finisher = None
        while self._finish_q is not None and not self._finish_q.empty():
            pending_inflight += self._finish_q.get_nowait()[0]
        pending = list(self._carry) + pending_inflight
        self._carry.clear()
        while self._queue is not None and not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for _, fut in pending:
            if not fut.done():
                fut.set_exception(BatcherClosed("the server is shutting down"))

    # ---- submitting ---------------------------------------------------------------------------------
    async def submit(self, job: Any) -> Any:
        if self._task is None or self._queue is None:
            raise BatcherClosed("the batcher is not running")
        fut = asyncio.get_running_loop().create_future()
        self._queued_units += self.size(job)
        self._report_queue()
        await self._queue.put((job, fut))
        return await fut

    @property
    def queued(self) -> int:
        """Units (images) waiting for the model."""
        return self._queued_units

    def _report_queue(self) -> None:
        if self.on_queue is not None:
            self.on_queue(self._queued_units)

    # ---- the worker -----------------------------------------------------------------------------------
    async def _next(self, timeout: float | None):
        if self._carry:
            return self._carry.pop(0)
        if timeout is None:
            return await self._queue.get()
        if timeout <= 0:
            return self._queue.get_nowait()
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def _gather(self) -> list:
        first = await self._next(None)
        batch, units = [first], self.size(first[0])
        key = self.group(first[0])
        deadline = time.monotonic() + self.max_wait
        while units < self.max_batch:
            try:
                item = await self._next(max(0.0, deadline - time.monotonic()))
            except (asyncio.QueueEmpty, asyncio.TimeoutError):
                break
            n = self.size(item[0])
            if units + n > self.max_batch or self.group(item[0]) != key:
                self._carry.append(item)         # first in the next batch
                break
            batch.append(item)
            units += n
        return batch

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            self._queued_units -= sum(self.size(job) for job, _ in batch)
            self._report_queue()
            batch = [(job, fut) for job, fut in batch if not fut.cancelled()]   # clients that went away
            if not batch:
                continue
            t0 = time.perf_counter()
            self._inflight = batch
            try:
                await self._run(loop, batch)
            finally:
                self._inflight = []
                self.batches += 1
            if self.on_batch is not None:
                self.on_batch(sum(self.size(job) for job, _ in batch), time.perf_counter() - t0)

    async def _run(self, loop, batch: list) -> None:
        try:
            results = await loop.run_in_executor(self.executor, self.run_batch, [job for job, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(batch)} jobs")
        except Exception as e:
            if len(batch) > 1:              # one bad request must not fail its neighbours: run them alone
                for item in batch:
                    await self._run(loop, [item])
                return
            if not batch[0][1].done():
                batch[0][1].set_exception(e)
            return
        if self.finish is None:
            _resolve(batch, results)
            return
        await self._finish_slots.acquire()          # backpressure: the model waits if the store falls behind
        self._finish_q.put_nowait((batch, results))

    async def _finish_worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = [await self._finish_q.get()]
            while not self._finish_q.empty():
                group.append(self._finish_q.get_nowait())
            batch = [item for b, _ in group for item in b]
            results = [r for _, rs in group for r in rs]
            self._finishing = batch
            try:
                out = await loop.run_in_executor(self.finish_executor, self.finish, [job for job, _ in batch], results)
                _resolve(batch, out)
            except Exception as e:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
            finally:
                self._finishing = []
                for _ in group:
                    self._finish_slots.release()


def _resolve(batch: list, results: Sequence[Any]) -> None:
    for (_, fut), res in zip(batch, results):
        if not fut.done():
            fut.set_result(res)
