"""B10 — the escalation engine (docs/performance.md §4, issue 4 "Benchmark").

Workload, in the scratch database:
- 4 organisations × 2,500 open incidents = 10,000, inserted directly (bulk_create; the
  service is far too slow for 10k) with real SlaTimer rows, three per incident (30,000 rows,
  21,300 of them running): 8,700 incidents under investigation whose acknowledge clock was met
  and whose mitigate/resolve clocks fall due hours to days later; 1,000 SEV-1 incidents just
  reported whose acknowledge clocks fall due in one minute (60–120 s after the clock starts,
  evenly spread; their 80 % warnings fall due in the minute before); 200 more for the crash;
  100 for the calibration below.
- Each organisation's SEV-1 escalation path has one step: after 0 min, notify one person. A
  breach therefore also makes an EscalationRun, fires it (Notification + e-mail Delivery,
  sent by deliver_task through the locmem mail backend) and writes timeline events.
- Real processes: Vigil's worker (prefork, concurrency 2), Vigil's beat (sweep_sla_task every
  SLA_SWEEP_SECONDS, 1 s), and a separate process (bench/load.py) publishing no-op tasks into
  the same queue: B10's 500/s, scaled by this run's B0 to the same share (38 %) of the box's
  Celery capacity when the box is slower than the one §4 was written for.
- Tables are VACUUM ANALYZEd after seeding (as autovacuum would have done long before).

Measured (wall clock of this box; every process reads the same clock):
- lateness = breached_at − due_at per breached timer (breached_at is the sweep's "now", taken
  when the sweep starts); "visible" = when the benchmark's 10 Hz poll first saw the committed
  breach (± 0.1 s) − due_at; "escalated" = the fired EscalationRun first seen − due_at;
  "e-mailed" = Delivery.sent_at − due_at.
- breaches recorded twice (timeline events per timer), EscalationRuns per breach, escalation
  notifications per incident, e-mail deliveries per notification, warnings per timer; lost =
  due timers never breached. All must be 0 / exactly one.
- the sweeper's cost per cycle: every sweep_sla_task run in the worker, timed by task_prerun /
  task_postrun (bench/celery_app.py), split into idle cycles (nothing due) and busy ones; plus,
  before any worker runs, sweep_due() called directly in this process: 30 times with nothing
  due, once with 100 breaches due (each escalating at once), once with 100 warnings due —
  the uncontended cost per breach and per warning, with its SQL queries and audit entries.
- crash recovery: 200 acknowledge clocks fall due over 10 s; 3 s in, the worker's whole process
  group is SIGKILLed; 10 s later a new worker is started. Recovery = restart → the last of the
  200 breaches visible (and its escalation fired). Beat and the background load keep running.
"""

import datetime as dt
import json
import random
import time
from datetime import UTC

from bench.common import CpuAccount, Scratch, celery_beat, celery_worker, load_generator, say
from bench.common import summary as stats

ORGS = 4
PER_ORG = 2_500
MINUTE_BATCH = 1_000  # acknowledge clocks due in one minute
CRASH_BATCH = 200  # acknowledge clocks due while the worker is killed
CALIBRATION = 100  # breached by sweep_due() called directly, before the worker starts
WARM_UP = 60.0  # seconds from the start of the clock to the first due time
MINUTE = 60.0
CRASH_AT = 135.0  # the crash batch falls due over [CRASH_AT, CRASH_AT + CRASH_SPREAD)
CRASH_SPREAD = 10.0
KILL_AFTER = 3.0  # into the crash batch
DOWN_FOR = 10.0
RECOVERY_LIMIT = 60.0  # give up waiting after this long (target: 30 s)
POLL = 0.1
BACKGROUND_RATE = 500.0  # docs/performance.md §4, on a box doing 1,329 no-op tasks/s (B0)
ACK_TARGET = dt.timedelta(minutes=5)  # SEV-1 default (incidents.sla_defaults)
ACK_WARN = dt.timedelta(minutes=4)  # 80 %
FAR = dt.timedelta(days=30)  # placeholder due time until the clock starts

TARGETS = {"lateness_p99_s": 2.0, "duplicates": 0, "lost": 0, "recovery_s": 30.0}


# — seeding ——————————————————————————————————————————————————————————————————————————


def seed(rng: random.Random) -> dict:
    """Organisations, people, escalation paths, 10,000 incidents and their 30,000 timers.
    Returns the ids of the minute batch's and the crash batch's acknowledge timers."""
    from django.db import transaction
    from django_scopes import scopes_disabled

    from incidents.lifecycle import Status
    from incidents.models import ImpactPeriod, Incident, KeyCounter, Phase, SlaPolicy, SlaTimer
    from taxonomy.models import EscalationPath, EscalationStep, SeverityLevel
    from tenancy.models import Membership, Organization, User
    from tenancy.roles import Role

    now = dt.datetime.now(UTC)
    minute_ids: list[int] = []
    crash_ids: list[int] = []
    calibration_ids: list[int] = []
    with scopes_disabled(), transaction.atomic():
        for o in range(ORGS):
            org = Organization.objects.create(
                name=f"Bench {o}", slug=f"bench-{o}", key_prefix=f"BENCH{o}", timezone="UTC"
            )
            people = []
            for who in ("lead", "oncall"):
                user = User(email=f"{who}{o}@bench.test", full_name=f"{who.title()} {o}")
                user.set_unusable_password()
                user.save()
                Membership.objects.create(organization=org, user=user, role=Role.RESPONDER)
                people.append(user)
            lead, oncall = people
            levels = {s.level: s for s in SeverityLevel.objects.filter(organization=org)}
            policies = {
                p.severity_id: p
                for p in SlaPolicy.objects.filter(organization=org, category__isnull=True)
            }
            path = EscalationPath.objects.create(
                organization=org, name="SEV-1 pager", severity=levels[1]
            )
            EscalationStep.objects.create(
                organization=org,
                path=path,
                position=1,
                delay_minutes=0,
                target_kind=EscalationStep.TargetKind.USER,
                user=oncall,
            )
            per_minute = MINUTE_BATCH // ORGS
            per_crash = CRASH_BATCH // ORGS
            per_calibration = CALIBRATION // ORGS
            incidents = []
            for n in range(1, PER_ORG + 1):
                batch = n <= per_minute + per_crash + per_calibration
                level = levels[1] if batch else levels[rng.choice((2, 3, 4))]
                reported = now - (dt.timedelta(0) if batch else dt.timedelta(minutes=5))
                incidents.append(
                    Incident(
                        organization=org,
                        number=n,
                        key=f"{org.key_prefix}-{n}",
                        title=f"Bench incident {n} of {org.name}",
                        severity=level,
                        status=Status.REPORTED if batch else Status.INVESTIGATING,
                        commander=lead,
                        reporter=lead,
                        detected_at=reported,
                        reported_at=reported,
                        acknowledged_at=None if batch else reported + dt.timedelta(minutes=1),
                        created_at=reported,
                        updated_at=reported,
                    )
                )
            Incident.objects.bulk_create(incidents, batch_size=1_000)
            KeyCounter.objects.update_or_create(organization=org, defaults={"last_number": PER_ORG})
            ImpactPeriod.objects.bulk_create(
                [
                    ImpactPeriod(organization=org, incident=i, number=1, started_at=i.detected_at)
                    for i in incidents
                ],
                batch_size=2_000,
            )
            timers = []
            for i in incidents:
                policy = policies[i.severity_id]
                batch = i.status == Status.REPORTED
                for phase in Phase:
                    target = policy.target_minutes(phase)
                    timer = SlaTimer(
                        organization=org,
                        incident=i,
                        phase=phase,
                        period_number=1,
                        policy=policy,
                        clock=policy.clock,
                        target_minutes=target,
                        started_at=i.reported_at,
                    )
                    if phase == Phase.ACKNOWLEDGE and batch:
                        timer.due_at = now + FAR  # armed when the clock starts
                        timer.warn_at = now + FAR - (ACK_TARGET - ACK_WARN)
                    elif phase == Phase.ACKNOWLEDGE:
                        timer.due_at = i.reported_at + dt.timedelta(minutes=target)
                        timer.met_at = i.acknowledged_at
                    else:
                        # Not due during the run: half an hour to three days away.
                        low = 30 if phase == Phase.MITIGATE else 8 * 60
                        high = 8 * 60 if phase == Phase.MITIGATE else 3 * 24 * 60
                        timer.due_at = now + dt.timedelta(minutes=rng.uniform(low, high))
                        timer.warn_at = timer.due_at - (timer.due_at - timer.started_at) / 5
                    timers.append(timer)
            SlaTimer.objects.bulk_create(timers, batch_size=2_000)
            for timer in timers:
                if timer.phase == Phase.ACKNOWLEDGE and timer.incident.status == Status.REPORTED:
                    if timer.incident.number <= per_minute:
                        minute_ids.append(timer.pk)
                    elif timer.incident.number <= per_minute + per_crash:
                        crash_ids.append(timer.pk)
                    else:
                        calibration_ids.append(timer.pk)
    with scopes_disabled():
        counts = {
            "incidents": Incident.objects.count(),
            "timers": SlaTimer.objects.count(),
            "running_timers": SlaTimer.objects.filter(
                met_at__isnull=True, breached_at__isnull=True, stopped_at__isnull=True
            ).count(),
        }
    return {
        "minute_ids": minute_ids,
        "crash_ids": crash_ids,
        "calibration_ids": calibration_ids,
        "counts": counts,
    }


def _vacuum_analyze() -> None:
    """What autovacuum would have done to tables of this size long before: without planner
    statistics next_due()'s MIN() reads the whole partial index (28 ms instead of 0.1 ms),
    and an autoanalyze landing mid-run would change the plans while being measured."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def arm(t0: float, minute_ids: list[int], crash_ids: list[int], rng: random.Random) -> dict:
    """Start the clock: set the batches' due times relative to t0 (one UPDATE). The minute
    batch falls due evenly over [t0 + 60 s, t0 + 120 s) in shuffled order across the
    organisations; the crash batch over [t0 + CRASH_AT, + CRASH_SPREAD)."""
    from django.db import connection

    from incidents.models import SlaTimer

    start = dt.datetime.fromtimestamp(t0, UTC)
    due: dict[int, float] = {}
    for ids, offset, spread in (
        (minute_ids, WARM_UP, MINUTE),
        (crash_ids, CRASH_AT, CRASH_SPREAD),
    ):
        order = list(ids)
        rng.shuffle(order)
        for k, pk in enumerate(order):
            due[pk] = offset + spread * k / len(order)
    pks = list(due)
    due_at = [start + dt.timedelta(seconds=due[pk]) for pk in pks]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {SlaTimer._meta.db_table} AS t
               SET due_at = v.due,
                   warn_at = v.due - %s,
                   started_at = v.due - %s,
                   warned_at = NULL
              FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::timestamptz[]) AS due) AS v
             WHERE t.id = v.id
            """,  # noqa: S608 — the table name is the model's
            [ACK_TARGET - ACK_WARN, ACK_TARGET, pks, due_at],
        )
    return {pk: t0 + seconds for pk, seconds in due.items()}


# — watching ——————————————————————————————————————————————————————————————————————————


class Watch:
    """Polls, 10 times a second, which of the watched timers are breached and which of their
    escalations have fired, as committed (what another session sees)."""

    def __init__(self, timer_ids):
        from incidents.models import EscalationRun, SlaTimer

        self.timers = SlaTimer._meta.db_table
        self.runs = EscalationRun._meta.db_table
        self.pending_breach = set(timer_ids)
        self.pending_fire = {f"breach:{pk}": pk for pk in timer_ids}
        self.breach_seen: dict[int, float] = {}
        self.fire_seen: dict[int, float] = {}

    def poll(self) -> None:
        from django.db import connection

        seen = time.time()
        with connection.cursor() as cursor:
            if self.pending_breach:
                cursor.execute(
                    f"SELECT id FROM {self.timers} "  # noqa: S608
                    "WHERE id = ANY(%s) AND breached_at IS NOT NULL",
                    [list(self.pending_breach)],
                )
                for (pk,) in cursor.fetchall():
                    self.breach_seen[pk] = seen
                    self.pending_breach.discard(pk)
            if self.pending_fire:
                cursor.execute(
                    f"SELECT trigger FROM {self.runs} "  # noqa: S608
                    "WHERE trigger = ANY(%s) AND fired_at IS NOT NULL",
                    [list(self.pending_fire)],
                )
                for (trigger,) in cursor.fetchall():
                    self.fire_seen[self.pending_fire.pop(trigger)] = seen

    def done(self, ids) -> bool:
        return all(pk in self.breach_seen and pk in self.fire_seen for pk in ids)


def _sleep_until(moment: float, watch: Watch, sampler) -> None:
    while True:
        left = moment - time.time()
        if left <= 0:
            return
        time.sleep(min(POLL, left))
        watch.poll()
        sampler()


# — the run ——————————————————————————————————————————————————————————————————————————


def idle_sweep_cost(calls: int = 30) -> dict:
    """sweep_due() called directly with nothing due (10,000 incidents, 30,000 timers), and
    next_due() — what a sweeper driven by the nearest due time would ask each cycle."""
    from incidents import sla

    sweeps, nexts = [], []
    for _ in range(calls):
        began = time.perf_counter()
        counts = sla.sweep_due()
        sweeps.append(time.perf_counter() - began)
        assert not any(counts.values()), counts
        began = time.perf_counter()
        sla.next_due()
        nexts.append(time.perf_counter() - began)
    return {
        "sweep_due_ms": stats([s * 1000 for s in sweeps], 2),
        "next_due_ms": stats([s * 1000 for s in nexts], 2),
    }


def background_rate(b0: dict) -> float:
    """B10's 500 tasks/s were set for a box whose B0 is 1,329 tasks/s (38 % of its Celery
    capacity). On another box, load it to the same share of its own B0, never above 500."""
    share = BACKGROUND_RATE / b0["anchor_tasks_per_s"]
    return round(min(BACKGROUND_RATE, share * b0["tasks_per_s"]))


def calibrate(timer_ids: list[int]) -> dict:
    """The sweeper's uncontended cost: sweep_due() (as sweep_sla_task calls it) with 100
    acknowledge clocks 1 s overdue (warnings already sent; each breach escalates at once),
    then with the same incidents' mitigate clocks at their warning share."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents import sla
    from incidents.models import SlaTimer
    from tenancy.audit import audit_context
    from tenancy.models import AuditEntry

    timers, audit = SlaTimer._meta.db_table, AuditEntry._meta.db_table
    now = dt.datetime.now(UTC)
    second, minute = dt.timedelta(seconds=1), dt.timedelta(minutes=1)

    def measure(kind: str) -> dict:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {audit}")  # noqa: S608
            audit_before = cursor.fetchone()[0]
        with CaptureQueriesContext(connection) as queries, audit_context(origin="task:sweep_sla"):
            began = time.perf_counter()
            counts = sla.sweep_due()
            seconds = time.perf_counter() - began
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {audit}")  # noqa: S608
            audit_entries = cursor.fetchone()[0] - audit_before
        n = max(1, counts[kind])
        return {
            "counts": counts,
            "ms": round(seconds * 1000, 1),
            "queries": len(queries),
            "audit_entries": audit_entries,
            f"per_{kind}": {
                "ms": round(seconds * 1000 / n, 2),
                "queries": round(len(queries) / n, 1),
                "audit_entries": round(audit_entries / n, 1),
            },
        }

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {timers} SET due_at = %s, warn_at = %s, warned_at = %s"  # noqa: S608
            " WHERE id = ANY(%s)",
            [now - second, now - minute, now - minute, timer_ids],
        )
    breaches = measure("breached")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {timers} SET warn_at = %s WHERE phase = 'mitigate' AND incident_id IN"  # noqa: S608
            f" (SELECT incident_id FROM {timers} WHERE id = ANY(%s))",
            [dt.datetime.now(UTC) - second, timer_ids],
        )
    warnings = measure("warned")
    return {"breaches_with_escalation": breaches, "warnings": warnings}


def run(scratch: Scratch, rng: random.Random, background_rate: float = BACKGROUND_RATE) -> dict:
    from django.conf import settings

    say(f"B10: seeding {ORGS * PER_ORG:,} incidents with SLA timers")
    began = time.perf_counter()
    seeded = seed(rng)
    _vacuum_analyze()
    seed_seconds = time.perf_counter() - began
    minute_ids, crash_ids = seeded["minute_ids"], seeded["crash_ids"]
    calibration_ids = seeded["calibration_ids"]
    say(f"B10: seeded {seeded['counts']} in {seed_seconds:.1f} s")
    idle = idle_sweep_cost()
    say(f"B10: sweep_due() with nothing due: p50 {idle['sweep_due_ms']['p50']} ms")
    calibration = calibrate(calibration_ids)
    per_breach = calibration["breaches_with_escalation"]["per_breached"]
    say(f"B10: sweep_due() with 100 breaches due: {per_breach['ms']} ms per breach + escalation")

    client = scratch.redis()
    client.delete("bench:sweeps", "bench:noop:done", "bench:noop:published")
    total_seconds = CRASH_AT + CRASH_SPREAD + DOWN_FOR + RECOVERY_LIMIT + 60
    worker = celery_worker(scratch, "b10-worker").start()
    worker.wait_for_log(" ready.")
    beat = celery_beat(scratch).start()
    load = None
    if background_rate > 0:
        load = load_generator(scratch, background_rate, total_seconds).start()
    beat.wait_for_log("beat: Starting...")
    time.sleep(2)  # let the background load reach its rate
    t0 = time.time() + 0.5
    due = arm(t0, minute_ids, crash_ids, rng)
    say(f"B10: clock started; {MINUTE_BATCH:,} due in [+60 s, +120 s)")
    say(f"B10: background load {background_rate:.0f} no-op tasks/s")

    watch = Watch(minute_ids + crash_ids)
    queue: list[tuple[float, int, int]] = []
    last_sample = [0.0]

    def sampler():
        now = time.time()
        if now - last_sample[0] >= 1.0:
            last_sample[0] = now
            llen = client.llen("celery")
            done = int(client.get("bench:noop:done") or 0)
            queue.append((now - t0, llen, done))

    cpu = CpuAccount(scratch.db_name)
    cpu_before = None
    while not watch.done(minute_ids) and time.time() < t0 + CRASH_AT + KILL_AFTER:
        if cpu_before is None and time.time() >= t0 + WARM_UP:
            cpu_before = cpu.snapshot()
        _sleep_until(time.time() + POLL, watch, sampler)
    minute_done = time.time()
    _sleep_until(t0 + WARM_UP + MINUTE, watch, sampler)
    cpu_minute = CpuAccount.between(cpu_before, cpu.snapshot())
    say(f"B10: minute batch visible: {sum(pk in watch.breach_seen for pk in minute_ids)}")

    # — crash ——
    _sleep_until(t0 + CRASH_AT + KILL_AFTER, watch, sampler)
    before_kill = sum(pk in watch.breach_seen for pk in crash_ids)
    kill_at = time.time()
    worker.kill()
    say(f"B10: worker SIGKILLed ({before_kill} of {CRASH_BATCH} recorded before)")
    _sleep_until(kill_at + DOWN_FOR, watch, sampler)
    worker2 = celery_worker(scratch, "b10-worker-restarted").start()
    restart_at = worker2.started_at
    say("B10: worker restarted")
    ready_at = None
    while not watch.done(crash_ids) and time.time() < restart_at + RECOVERY_LIMIT:
        if ready_at is None and " ready." in worker2.log():
            ready_at = time.time()
        _sleep_until(time.time() + POLL, watch, sampler)
    if ready_at is None and " ready." in worker2.log():
        ready_at = time.time()
    recovered_at = time.time()
    _sleep_until(time.time() + 5, watch, sampler)  # more sweeps: they must find nothing
    if load is not None:
        load.stop()
    beat.stop()
    tail = time.time()
    while time.time() < tail + 15 and _emails_pending():  # let queued e-mails go out
        time.sleep(0.5)
    worker2.stop()
    say("B10: processes stopped; checking the records")

    sweeps = [json.loads(raw) for raw in client.lrange("bench:sweeps", 0, -1)]
    published = int(client.get("bench:noop:published") or 0)
    noop_done = int(client.get("bench:noop:done") or 0)
    client.close()

    records = _records(minute_ids + crash_ids + calibration_ids)
    result = {
        "config": {
            "organisations": ORGS,
            "incidents": seeded["counts"]["incidents"],
            "timers": seeded["counts"]["timers"],
            "running_timers": seeded["counts"]["running_timers"],
            "minute_batch": MINUTE_BATCH,
            "crash_batch": CRASH_BATCH,
            "sla_sweep_seconds": settings.SLA_SWEEP_SECONDS,
            "sweep_batch_limit": _sweep_batch(),
            "background_tasks_per_s": background_rate,
            "worker": "prefork, concurrency 2, acks_late, prefetch 1",
            "seed_seconds": round(seed_seconds, 1),
        },
        "idle_sweep_in_process": idle,
        "calibration_in_process": calibration,
    }
    result["minute_batch"] = _lateness(minute_ids, due, watch, records)
    result["minute_batch"]["all_visible_after_t0_s"] = round(minute_done - t0, 2)
    result["minute_batch"]["cpu_percent_of_box"] = cpu_minute
    missed = [pk for pk in crash_ids if not _seen_before(watch, pk, kill_at)]
    restart_breaches = [records["breached_at"][pk] for pk in missed if pk in records["breached_at"]]
    result["crash"] = {
        "recorded_before_kill": CRASH_BATCH - len(missed),
        "missed_by_the_kill": len(missed),
        "down_seconds": round(restart_at - kill_at, 1),
        "worker_ready_after_restart_s": round(ready_at - restart_at, 2) if ready_at else None,
        "all_visible_after_restart_s": (
            round(max(watch.fire_seen[pk] for pk in crash_ids) - restart_at, 2)
            if watch.done(crash_ids)
            else None
        ),
        "last_breached_at_after_restart_s": (
            round(max(restart_breaches) - restart_at, 2) if restart_breaches else None
        ),
        "recovered": watch.done(crash_ids),
        "waited_s": round(recovered_at - restart_at, 1),
        "missed_lateness": _lateness(missed, due, watch, records),
    }
    result["correctness"] = records["correctness"]
    result["sweeps"] = _sweeps(sweeps, t0, kill_at, restart_at)
    result["background"] = _background(queue, published, noop_done, t0)
    return result


def _emails_pending() -> int:
    from django_scopes import scopes_disabled

    from incidents.models import Delivery

    with scopes_disabled():
        return Delivery.objects.filter(status=Delivery.Status.PENDING).count()


def _seen_before(watch: Watch, pk: int, moment: float) -> bool:
    return watch.breach_seen.get(pk, moment + 1) <= moment


def _sweep_batch() -> int:
    from incidents import sla

    return sla.SWEEP_BATCH


# — results ——————————————————————————————————————————————————————————————————————————


def _records(timer_ids: list[int]) -> dict:
    """What the database says: breach times, and every way a firing could have doubled."""
    from django.db import connection
    from django_scopes import scopes_disabled

    from incidents.models import Delivery, EscalationRun, Notification, SlaTimer, TimelineEvent

    ids = list(timer_ids)
    triggers = [f"breach:{pk}" for pk in ids]
    tables = {
        "timer": SlaTimer._meta.db_table,
        "event": TimelineEvent._meta.db_table,
        "run": EscalationRun._meta.db_table,
        "note": Notification._meta.db_table,
        "delivery": Delivery._meta.db_table,
    }

    def rows(sql, params=()):
        with connection.cursor() as cursor:
            cursor.execute(sql.format(**tables), params)
            return cursor.fetchall()

    def one(sql, params=()):
        return rows(sql, params)[0][0]

    with scopes_disabled():
        breached_at = {
            pk: when.timestamp()
            for pk, when in rows(
                "SELECT id, breached_at FROM {timer}"
                " WHERE id = ANY(%s) AND breached_at IS NOT NULL",
                [ids],
            )
        }
        timer_incident = dict(rows("SELECT id, incident_id FROM {timer} WHERE id = ANY(%s)", [ids]))
        sent_at = {}
        for incident_id, when in rows(
            "SELECT n.incident_id, d.sent_at FROM {note} n JOIN {delivery} d"
            " ON d.notification_id = n.id WHERE n.kind = 'escalation' AND d.sent_at IS NOT NULL"
        ):
            sent_at[incident_id] = when.timestamp()
        deliveries = dict(
            rows(
                "SELECT d.status, count(*) FROM {delivery} d JOIN {note} n"
                " ON d.notification_id = n.id WHERE n.kind = 'escalation' GROUP BY d.status"
            )
        )
        correctness = {
            "due_timers": len(ids),
            "lost": len(ids) - len(breached_at),
            "breaches_recorded_twice": one(
                "SELECT count(*) FROM (SELECT data->>'timer' FROM {event} WHERE kind = 'sla'"
                " AND data ? 'timer' GROUP BY 1 HAVING count(*) > 1) x"
            ),
            "breach_events": one(
                "SELECT count(*) FROM {event} WHERE kind = 'sla' AND data ? 'timer'"
            ),
            "escalation_runs": one(
                "SELECT count(*) FROM {run} WHERE trigger = ANY(%s)", [triggers]
            ),
            "escalation_runs_fired": one(
                "SELECT count(*) FROM {run} WHERE trigger = ANY(%s) AND fired_at IS NOT NULL",
                [triggers],
            ),
            "escalation_runs_twice": one(
                "SELECT count(*) FROM (SELECT 1 FROM {run} GROUP BY incident_id, step_id, trigger"
                " HAVING count(*) > 1) x"
            ),
            "escalation_timeline_events_twice": one(
                "SELECT count(*) FROM (SELECT data->>'run' FROM {event} WHERE kind = 'escalation'"
                " GROUP BY 1 HAVING count(*) > 1) x"
            ),
            "escalation_notifications": one(
                "SELECT count(*) FROM {note} WHERE kind = 'escalation'"
            ),
            "incidents_notified_twice": one(
                "SELECT count(*) FROM (SELECT incident_id FROM {note} WHERE kind = 'escalation'"
                " GROUP BY 1 HAVING count(*) > 1) x"
            ),
            "warning_notifications": one("SELECT count(*) FROM {note} WHERE kind = 'sla_warning'"),
            "incidents_warned_twice": one(
                "SELECT count(*) FROM (SELECT incident_id FROM {note} WHERE kind = 'sla_warning'"
                " GROUP BY 1 HAVING count(*) > 1) x"
            ),
            "emails_per_notification_over_1": one(
                "SELECT count(*) FROM (SELECT notification_id FROM {delivery}"
                " WHERE notification_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) x"
            ),
            "escalation_emails_by_status": deliveries,
            "other_timers_breached": one(
                "SELECT count(*) FROM {timer} WHERE breached_at IS NOT NULL AND NOT id = ANY(%s)",
                [ids],
            ),
        }
    c = correctness
    c["duplicates"] = (
        c["breaches_recorded_twice"]
        + c["escalation_runs_twice"]
        + c["escalation_timeline_events_twice"]
        + c["incidents_notified_twice"]
        + c["incidents_warned_twice"]
        + c["emails_per_notification_over_1"]
        + max(0, c["breach_events"] - len(breached_at))
        + max(0, c["escalation_notifications"] - len(breached_at))
    )
    c["ok"] = (
        c["duplicates"] == 0
        and c["lost"] == 0
        and c["escalation_runs"] == len(ids)
        and c["escalation_runs_fired"] == len(ids)
        and c["other_timers_breached"] == 0
    )
    return {
        "breached_at": breached_at,
        "timer_incident": timer_incident,
        "sent_at": sent_at,
        "correctness": correctness,
    }


def _lateness(ids, due, watch: Watch, records) -> dict:
    breached = [records["breached_at"][pk] - due[pk] for pk in ids if pk in records["breached_at"]]
    visible = [watch.breach_seen[pk] - due[pk] for pk in ids if pk in watch.breach_seen]
    fired = [watch.fire_seen[pk] - due[pk] for pk in ids if pk in watch.fire_seen]
    mailed = []
    for pk in ids:
        sent = records["sent_at"].get(records["timer_incident"].get(pk))
        if sent is not None:
            mailed.append(sent - due[pk])
    return {
        "breached_at_minus_due_s": stats(breached),
        "breach_visible_minus_due_s": stats(visible),
        "escalation_visible_minus_due_s": stats(fired),
        "email_sent_minus_due_s": stats(mailed),
    }


def _sweeps(sweeps: list[dict], t0: float, kill_at: float, restart_at: float) -> dict:
    def busy(s):
        return bool(s["result"]) and any(s["result"].values())

    ok = [s for s in sweeps if s["state"] == "SUCCESS"]
    idle = [s["seconds"] * 1000 for s in ok if not busy(s)]
    breaching = [s for s in ok if s["result"] and s["result"].get("breached")]
    starts = sorted(s["start"] for s in ok if t0 <= s["start"] < kill_at)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    pure = [s for s in breaching if not s["result"].get("warned")] or breaching
    breached = sum(s["result"]["breached"] for s in pure)
    busy_seconds = sum(s["seconds"] for s in pure)
    after_restart = [s for s in breaching if s["start"] >= restart_at]
    biggest = max(breaching, key=lambda s: s["result"]["breached"], default=None)
    return {
        "cycles": len(sweeps),
        "failed": len(sweeps) - len(ok),
        "idle_cycle_ms": stats(idle, 2),
        "breaching_cycles": len(breaching),
        "breaches_per_cycle": stats([s["result"]["breached"] for s in breaching], 1),
        "breaching_cycle_ms": stats([s["seconds"] * 1000 for s in breaching], 1),
        "ms_per_breach_incl_escalation_cycles_without_warnings": (
            round(busy_seconds * 1000 / breached, 2) if breached else None
        ),
        "breaches_per_sweep_second": round(breached / busy_seconds) if busy_seconds else None,
        "largest_cycle": (
            {
                "breached": biggest["result"]["breached"],
                "escalated": biggest["result"]["escalated"],
                "ms": round(biggest["seconds"] * 1000, 1),
            }
            if biggest
            else None
        ),
        "first_cycles_after_restart": [
            {
                "after_restart_s": round(s["start"] - restart_at, 2),
                "breached": s["result"]["breached"],
                "ms": round(s["seconds"] * 1000, 1),
            }
            for s in sorted(after_restart, key=lambda s: s["start"])[:3]
        ],
        "interval_between_starts_s": stats(gaps, 3),
    }


def _background(queue, published: int, done: int, t0: float) -> dict:
    window = [q for q in queue if WARM_UP <= q[0] <= WARM_UP + MINUTE]
    rate = None
    if len(window) >= 2:
        rate = round((window[-1][2] - window[0][2]) / (window[-1][0] - window[0][0]))
    return {
        "published": published,
        "executed": done,
        "executed_per_s_during_minute_batch": rate,
        "queue_length_during_minute_batch": stats([q[1] for q in window], 0),
        "queue_length_max": max((q[1] for q in queue), default=None),
    }
