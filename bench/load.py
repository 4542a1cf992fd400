"""Background load for B10: publish `bench.noop` tasks into Vigil's Celery queue at a fixed
rate, from its own process, until SIGTERM or the time is up. Counts what it published in
Redis (`bench:noop:published`).

    python bench/load.py RATE SECONDS   (environment: the benchmark's REDIS_URL)
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main(rate: float, seconds: float) -> int:
    import django

    django.setup()
    import redis

    from config.celery import app

    stop = False

    def on_term(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    counter = redis.Redis.from_url(app.conf.broker_url)
    began = time.monotonic()
    sent = counted = 0
    with app.producer_or_acquire() as producer:
        while not stop:
            elapsed = time.monotonic() - began
            if elapsed >= seconds:
                break
            due = int(elapsed * rate) + 1
            while sent < due and not stop:
                app.send_task("bench.noop", producer=producer)
                sent += 1
            if sent - counted >= 100:
                counter.incrby("bench:noop:published", sent - counted)
                counted = sent
            time.sleep(max(0.0, (sent / rate) - (time.monotonic() - began)))
    counter.incrby("bench:noop:published", sent - counted)
    print(f"published {sent} in {time.monotonic() - began:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(float(sys.argv[1]), float(sys.argv[2])))
