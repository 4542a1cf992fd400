"""The Celery app of benchmark workers: Vigil's own (config.celery — every Vigil task, every
CELERY_* setting: acks_late, reject on worker lost, prefetch 1) plus two things for measuring:

- `bench.noop`, a task that INCRs a Redis counter (the B0 baseline and the B10 background
  load; the same task as docs/performance.md §3.4). Its per-task INFO lines ("received",
  "succeeded") are left out of the worker log, so 500 of them a second do not turn logging
  into the workload; every other line is logged as `make worker` logs it.
- the run time and result of every `incidents.tasks.sweep_sla_task`, pushed to the Redis list
  `bench:sweeps` from task_prerun/task_postrun (the sweeper's cost per cycle).

Start it as `celery -A bench.celery_app worker …` with the scratch DATABASE_URL / REDIS_URL.
"""

import json
import logging
import os
import time

import redis
from celery import signals

from config.celery import app

NOOP = "bench.noop"
SWEEP = "incidents.tasks.sweep_sla_task"
_clients: dict[int, redis.Redis] = {}
_started: dict[str, tuple[float, float]] = {}


def _redis() -> redis.Redis:
    """One connection per process (pool children are forked)."""
    pid = os.getpid()
    if pid not in _clients:
        _clients[pid] = redis.Redis.from_url(app.conf.broker_url)
    return _clients[pid]


@app.task(name=NOOP, ignore_result=True)
def noop() -> None:
    _redis().incr("bench:noop:done")


class _QuietNoop(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, dict) and args.get("name") == NOOP)


for _name in ("celery.app.trace", "celery.worker.strategy"):
    logging.getLogger(_name).addFilter(_QuietNoop())


@signals.task_prerun.connect
def _sweep_started(task_id=None, task=None, **kwargs):
    if task is not None and task.name == SWEEP:
        _started[task_id] = (time.time(), time.perf_counter())


@signals.task_postrun.connect
def _sweep_finished(task_id=None, task=None, retval=None, state=None, **kwargs):
    if task is None or task.name != SWEEP or task_id not in _started:
        return
    wall, began = _started.pop(task_id)
    record = {
        "start": wall,
        "seconds": time.perf_counter() - began,
        "result": retval if isinstance(retval, dict) else None,
        "state": state,
        "pid": os.getpid(),
    }
    _redis().rpush("bench:sweeps", json.dumps(record))
