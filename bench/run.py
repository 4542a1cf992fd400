"""Run Vigil's benchmarks (never part of `make test`; see bench/README.md).

    python bench/run.py [b10|b0] [--background-rate N] [--seed N] [--keep-logs]
    python bench/run.py b1 [options of bench/b1_ingest.py]   (alert ingestion, its own run)

`b10` (the default) runs B0's Celery baseline first, then B10, in the same run. Everything
happens in a scratch database (`vigil_bench`, created, migrated and dropped) and Redis
database 14 (flushed before and after); the worker, beat and load processes are the
benchmark's own and are stopped by their process-group ids. Prints a table and writes
bench/results/<name>-<date>.json. Exit status: 0 when the figures are comparable (B0 within
25 % of docs/performance.md §3.4, else "the box changed; compare nothing", §4) and nothing was
lost or doubled; 1 otherwise. Targets missed are reported, not failed.
"""

import argparse
import json
import os
import random
import shutil
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, Scratch, box_info, say, stop_all  # noqa: E402


def _terminate(signum, frame):
    raise SystemExit(f"stopped by signal {signum}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["b1"]:  # own database, server, options and report: bench/b1_ingest.py
        from bench import b1_ingest

        return b1_ingest.main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", nargs="?", default="b10", choices=["b10", "b0", "b1"])
    parser.add_argument(
        "--background-rate",
        type=float,
        default=None,
        help="no-op tasks/s published during B10 (default: B10's 500/s scaled by this box's"
        " B0 to the same share of Celery capacity, 500/1329 = 38 %%, at most 500)",
    )
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _terminate)
    scratch = Scratch()
    os.environ.update(scratch.env())  # this process too: before Django reads its settings
    began = time.monotonic()
    result: dict = {"benchmark": args.benchmark}
    comparable = correct = False
    try:
        say(f"scratch database {scratch.db_name!r}, Redis {scratch.redis_url}")
        scratch.create_database()
        scratch.flush_redis()
        scratch.migrate()
        import django

        django.setup()
        from bench import b0_celery

        result["box"] = box_info(scratch)
        say(f"box: {result['box']['nproc']} CPUs, PostgreSQL {result['box']['postgresql']}")
        result["b0"] = b0_celery.run(scratch)
        say(f"B0: {result['b0']['tasks_per_s']} no-op tasks/s")
        if args.benchmark == "b10":
            from bench import b10_escalation

            rate = args.background_rate
            if rate is None:
                rate = b10_escalation.background_rate(result["b0"])
            result["b10"] = b10_escalation.run(scratch, random.Random(args.seed), rate)
        result["seconds"] = round(time.monotonic() - began, 1)
        comparable, correct = report(result)
    finally:
        stop_all()
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        scratch.drop_database()
        scratch.flush_redis()
        if "tmp" in vars(scratch):  # a process was started
            if args.keep_logs or not correct:
                say(f"process logs kept in {scratch.tmp}")
            else:
                shutil.rmtree(scratch.tmp, ignore_errors=True)
    return 0 if comparable and correct else 1


def report(result: dict) -> tuple[bool, bool]:
    """Print the table, write the JSON. Returns (comparable: B0 within 25 % of its anchor,
    correct: nothing lost or doubled and the crash recovered)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    path = RESULTS / f"{result['benchmark']}-{stamp}.json"
    b0 = result["b0"]
    rows = [
        ("box", f"{result['box']['nproc']} CPUs, {result['box']['cpu']}", "", ""),
        ("date", result["box"]["date"], "", ""),
        (
            "versions",
            f"Python {result['box']['python']}, Django {result['box']['django']}, "
            f"Celery {result['box']['celery']}, PostgreSQL {result['box']['postgresql']}",
            "",
            "",
        ),
        ("fdatasync ops/s", result["box"]["fdatasync_ops_s"], "", ""),
        (
            "box busy before start % (other work)",
            result["box"]["cpu_busy_percent_before_start"],
            "",
            "",
        ),
        (
            "B0 no-op tasks/s (10k, conc. 2)",
            b0["tasks_per_s"],
            f"{b0['anchor_tasks_per_s']} ±25 %",
            "ok" if b0["within_tolerance"] else "BOX DIFFERS: compare nothing",
        ),
        ("  CPU of the box during B0: busy / bench / other %", _cpu(b0["cpu_percent_of_box"])),
    ]
    correct = True
    b10 = result.get("b10")
    if b10:
        t = __import__("bench.b10_escalation", fromlist=["TARGETS"]).TARGETS
        late = b10["minute_batch"]
        br, vis = late["breached_at_minus_due_s"], late["breach_visible_minus_due_s"]
        esc, mail = late["escalation_visible_minus_due_s"], late["email_sent_minus_due_s"]
        crash, c, sw = b10["crash"], b10["correctness"], b10["sweeps"]
        idle = b10["idle_sweep_in_process"]["sweep_due_ms"]
        cal = b10["calibration_in_process"]
        recovery = crash["all_visible_after_restart_s"]
        alone_ms = cal["breaches_with_escalation"]["per_breached"]["ms"]
        alone_rate = round(1000 / alone_ms) if alone_ms else None
        ratio = alone_rate / b0["tasks_per_s"] if alone_rate else None

        def verdict(good):
            return "met" if good else "MISSED"

        rows += [
            (
                "B10 lateness breached_at−due p50/p95/p99/max s",
                f"{br.get('p50')} / {br.get('p95')} / {br.get('p99')} / {br.get('max')}",
                f"p99 ≤ {t['lateness_p99_s']}",
                verdict(br.get("p99") is not None and br["p99"] <= t["lateness_p99_s"]),
            ),
            (
                "  breach visible (committed) p50/p95/p99/max s",
                f"{vis.get('p50')} / {vis.get('p95')} / {vis.get('p99')} / {vis.get('max')}",
                "(stricter)",
                verdict(vis.get("p99") is not None and vis["p99"] <= t["lateness_p99_s"]),
            ),
            (
                "  escalation fired, visible p50/p99/max s",
                f"{esc.get('p50')} / {esc.get('p99')} / {esc.get('max')}",
                "",
                "",
            ),
            (
                "  e-mail handed to mail backend p50/p99/max s",
                f"{mail.get('p50')} / {mail.get('p99')} / {mail.get('max')}",
                "",
                "",
            ),
            (
                "  CPU of the box in the minute: busy / bench / other %",
                _cpu(late["cpu_percent_of_box"]),
            ),
            (
                "B10 duplicates (breach/run/notification/e-mail)",
                c["duplicates"],
                "0",
                verdict(c["duplicates"] == 0),
            ),
            ("B10 lost (due, never breached)", c["lost"], "0", verdict(c["lost"] == 0)),
            (
                "B10 escalations fired / due",
                f"{c['escalation_runs_fired']} / {c['due_timers']}",
                "all",
                verdict(c["escalation_runs_fired"] == c["due_timers"]),
            ),
            ("sweep_due() nothing due, in-process p50/p95 ms", f"{idle['p50']} / {idle['p95']}"),
            (
                "sweep cycle in worker, idle p50/p95 ms",
                f"{sw['idle_cycle_ms'].get('p50')} / {sw['idle_cycle_ms'].get('p95')}",
            ),
            (
                "sweep cycle with breaches p50/p95/max ms",
                f"{sw['breaching_cycle_ms'].get('p50')} / {sw['breaching_cycle_ms'].get('p95')}"
                f" / {sw['breaching_cycle_ms'].get('max')}",
            ),
            ("  breaches per breaching cycle p50/max", _pair(sw["breaches_per_cycle"])),
            (
                "  ms per breach + escalation, in worker / alone",
                f"{sw['ms_per_breach_incl_escalation_cycles_without_warnings']} / "
                f"{cal['breaches_with_escalation']['per_breached']['ms']}",
            ),
            (
                "  alone: SQL queries / audit rows per breach",
                f"{cal['breaches_with_escalation']['per_breached']['queries']} / "
                f"{cal['breaches_with_escalation']['per_breached']['audit_entries']}",
            ),
            (
                "  alone: ms / queries per warning",
                f"{cal['warnings']['per_warned']['ms']} / "
                f"{cal['warnings']['per_warned']['queries']}",
            ),
            (
                "  breaches/s of one sweeper, worker / alone (of B0)",
                f"{sw['breaches_per_sweep_second']} / {alone_rate} ({_pct(ratio)} of B0)",
                "≥ 60 % of B0",
                verdict(ratio is not None and ratio >= 0.6),
            ),
            ("  largest cycle", json.dumps(sw["largest_cycle"])),
            ("  beat interval between sweeps p50/max s", _pair(sw["interval_between_starts_s"])),
            (
                "background no-op tasks/s executed (target rate)",
                f"{b10['background']['executed_per_s_during_minute_batch']}"
                f" ({b10['config']['background_tasks_per_s']:.0f})",
            ),
            (
                "  queue length during minute batch p50/max",
                _pair(b10["background"]["queue_length_during_minute_batch"]),
            ),
            (
                "B10 crash: recorded before kill / missed",
                f"{crash['recorded_before_kill']} / {crash['missed_by_the_kill']}",
            ),
            ("  worker ready after restart s", crash["worker_ready_after_restart_s"]),
            (
                "  restart → all missed recorded + escalated s",
                recovery,
                f"≤ {t['recovery_s']}",
                verdict(recovery is not None and recovery <= t["recovery_s"]),
            ),
        ]
        correct = c["ok"] and crash["recovered"]
    rows.append(("wall time of the run s", result["seconds"]))
    width = max(len(r[0]) for r in rows)
    vwidth = min(60, max(len(str(r[1])) for r in rows))
    print()
    for row in rows:
        name, value, *rest = row
        target = rest[0] if rest else ""
        mark = rest[1] if len(rest) > 1 else ""
        print(f"{name:<{width}}  {value!s:<{vwidth}}  {target:<16} {mark}".rstrip())
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwritten: {path.relative_to(RESULTS.parents[1])}")
    return b0["within_tolerance"], correct


def _pair(summary: dict) -> str:
    return f"{summary.get('p50')} / {summary.get('max')}"


def _cpu(account: dict | None) -> str:
    if not account:
        return "n/a"
    return (
        f"{account['box_busy_percent']} / {account['benchmark_percent']}"
        f" / {account['other_percent']}"
    )


def _pct(ratio) -> str:
    return f"{ratio:.0%}" if ratio is not None else "n/a"


if __name__ == "__main__":
    sys.exit(main())
