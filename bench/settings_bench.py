"""Vigil's settings for the B1 server (bench/b1_ingest.py): exactly config.settings, with a
URLconf that adds the bare baseline view. Vigil's own URLconf is not changed."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline_urls"
