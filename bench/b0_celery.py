"""B0 (Celery part): no-op task throughput on this box, in this run — the baseline the B10
figures are compared with (docs/performance.md §3.4 and §4).

A real worker (Vigil's Celery settings: acks_late, reject on worker lost, prefetch 1; prefork,
concurrency 2) executes `bench.noop` (INCR a Redis counter) while one thread of the benchmark
process publishes 10,000 of them. Throughput = 10,000 ÷ (first publish → counter at 10,000).
A warm-up of 1,000 tasks comes first.
"""

import time

from bench.common import CpuAccount, Scratch, celery_worker, say

TASKS = 10_000
WARM_UP = 1_000
# docs/performance.md §3.4, "acks_late + reject_on_worker_lost, prefetch 1" (Vigil's settings)
ANCHOR_TASKS_PER_S = 1_329
TOLERANCE = 0.25


def _publish(app, n: int) -> float:
    began = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for _ in range(n):
            app.send_task("bench.noop", producer=producer)
    return time.perf_counter() - began


def _wait_done(client, n: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(client.get("bench:noop:done") or 0) >= n:
            return time.perf_counter()
        time.sleep(0.01)
    raise TimeoutError(f"only {client.get('bench:noop:done')} of {n} no-op tasks ran")


def run(scratch: Scratch) -> dict:
    from config.celery import app

    client = scratch.redis()
    worker = celery_worker(scratch, "b0").start()
    try:
        worker.wait_for_log(" ready.")
        say("B0: warm-up (1,000 no-op tasks)")
        client.delete("bench:noop:done")
        _publish(app, WARM_UP)
        _wait_done(client, WARM_UP, 60)
        client.delete("bench:noop:done")
        say(f"B0: {TASKS:,} no-op tasks, concurrency 2")
        cpu = CpuAccount(scratch.db_name)
        cpu_before = cpu.snapshot()
        began = time.perf_counter()
        publish_seconds = _publish(app, TASKS)
        finished = _wait_done(client, TASKS, 120)
        cpu_used = CpuAccount.between(cpu_before, cpu.snapshot())
    finally:
        worker.stop()
        client.close()
    seconds = finished - began
    rate = TASKS / seconds
    deviation = rate / ANCHOR_TASKS_PER_S - 1
    return {
        "tasks": TASKS,
        "concurrency": 2,
        "seconds": round(seconds, 2),
        "tasks_per_s": round(rate),
        "publish_per_s_while_worker_runs": round(TASKS / publish_seconds),
        "anchor_tasks_per_s": ANCHOR_TASKS_PER_S,
        "deviation_from_anchor": round(deviation, 3),
        "within_tolerance": abs(deviation) <= TOLERANCE,
        "cpu_percent_of_box": cpu_used,
    }
