from __future__ import annotations

import asyncio
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from mmgan.pipeline import Pipeline
from mmgan.server.batching import MicroBatcher
from mmgan.server.generation import GenerateJob, ServedModel
from mmgan.server.items import MemoryItemStore


def run(coro):
    return asyncio.run(coro)


def test_concurrent_jobs_share_model_calls_and_keep_order():
    calls = []

    def run_batch(jobs):
        calls.append(list(jobs))
        time.sleep(0.02)                         # a busy model: newcomers pile up meanwhile
        return [j * 10 for j in jobs]

    async def main():
        b = MicroBatcher(run_batch, max_batch=8, max_wait_ms=1, executor=ThreadPoolExecutor(1), size=lambda j: 1)
        await b.start()
        try:
            return await asyncio.gather(*(b.submit(i) for i in range(20)))
        finally:
            await b.stop()

    assert run(main()) == [i * 10 for i in range(20)]
    assert len(calls) < 20 and max(len(c) for c in calls) <= 8
    assert sorted(j for c in calls for j in c) == list(range(20))


def test_size_and_group_bound_a_batch():
    calls = []

    def run_batch(jobs):
        calls.append(jobs)
        return jobs

    async def main():
        b = MicroBatcher(run_batch, max_batch=4, max_wait_ms=20, size=lambda j: j[1], group=lambda j: j[0])
        await b.start()
        try:
            await asyncio.gather(*(b.submit(j) for j in [("a", 3), ("a", 2), ("b", 1), ("a", 1)]))
        finally:
            await b.stop()

    for c in calls:
        assert sum(n for _, n in c) <= 4 and len({g for g, _ in c}) == 1


def test_a_bad_job_fails_alone():
    def run_batch(jobs):
        if "bad" in jobs:
            raise ValueError("bad job")
        return [j.upper() for j in jobs]

    async def main():
        b = MicroBatcher(run_batch, max_batch=8, max_wait_ms=20)
        await b.start()
        try:
            return await asyncio.gather(*(b.submit(j) for j in ["a", "bad", "c"]), return_exceptions=True)
        finally:
            await b.stop()

    a, bad, c = run(main())
    assert (a, c) == ("A", "C") and isinstance(bad, ValueError)


def test_stop_fails_waiting_jobs_cleanly():
    gate = threading.Event()

    def run_batch(jobs):
        gate.wait(5)
        return jobs

    async def main():
        b = MicroBatcher(run_batch, max_batch=1, max_wait_ms=0)
        await b.start()
        futs = [asyncio.ensure_future(b.submit(i)) for i in range(3)]
        await asyncio.sleep(0.05)
        await b.stop()
        gate.set()
        return await asyncio.gather(*futs, return_exceptions=True)

    results = run(main())
    assert any(isinstance(r, RuntimeError) and "shutting down" in str(r) for r in results)


def test_batched_images_equal_images_made_alone(tiny_run):
    """Seeds make batching invisible: the same request gives the same pixels alone or in a batch."""
    pipe = Pipeline.from_pretrained(tiny_run, device="cpu")
    model = ServedModel("digits", pipe, str(tiny_run))
    alone = pipe(labels=3, num_images=2, seed=11, output_type="np").samples
    jobs = [GenerateJob(n=1, seed=5, label=1), GenerateJob(n=2, seed=11, label=3), GenerateJob(n=1, seed=0, label=9)]
    out = model.run_batch(jobs)
    assert [len(r) for r in out] == [1, 2, 1]
    got = np.stack([np.asarray(Image.open(io.BytesIO(g.media))) for g in out[1]]).astype(np.float32)
    want = ((alone[:, 0] + 1) * 127.5).clip(0, 255).round()
    assert np.abs(got - want).max() <= 1.0
    assert out[1][1].provenance["seed"] == 11 and out[1][1].provenance["index"] == 1


def test_one_store_write_per_batch(tiny_run):
    pipe = Pipeline.from_pretrained(tiny_run, device="cpu")
    model = ServedModel("digits", pipe, str(tiny_run))
    store = MemoryItemStore()
    writes = []
    add = store.add
    store.add = lambda items: writes.append(len(items)) or add(items)
    out = model.run_batch([GenerateJob(n=2, seed=1, label=1, store=store), GenerateJob(n=3, seed=2, label=2, store=store),
                           GenerateJob(n=1, seed=3, label=2)])
    assert writes == [5]
    assert all(g.id for r in out[:2] for g in r) and out[2][0].id is None
    assert store.get(out[1][0].id)["provenance"]["conditions"] == {"label": 2}


def test_finish_stage_overlaps_and_merges_writes():
    writes = []

    def finish(jobs, results):
        writes.append(list(jobs))
        time.sleep(0.03)                          # a slow store: finished batches pile up and merge
        if "fail" in jobs:
            raise OSError("disk full")
        return [r + "!" for r in results]

    async def main():
        b = MicroBatcher(lambda jobs: [j.upper() for j in jobs], max_batch=1, max_wait_ms=0, finish=finish,
                         finish_executor=ThreadPoolExecutor(1), max_finishing=4)
        await b.start()
        try:
            ok = await asyncio.gather(*(b.submit(j) for j in "abcdef"))
            bad = await asyncio.gather(b.submit("fail"), return_exceptions=True)
        finally:
            await b.stop()
        return ok, bad

    ok, bad = run(main())
    assert ok == [c.upper() + "!" for c in "abcdef"] and isinstance(bad[0], OSError)
    assert len(writes) < 7 and max(len(w) for w in writes) > 1
