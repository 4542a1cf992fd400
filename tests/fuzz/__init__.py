"""Hypothesis fuzzing of every inbound webhook and every form (issue 11).

test_webhooks.py: each alert adapter through POST /hooks/<id>/ (payloads shaped like the
vendor's, raw bytes, content types, wrong secrets); test_inbound.py: the PagerDuty v3 and
ticketing webhooks, the exposure feed, the public status page; test_forms.py: every form an
/o/<org>/ page reads (found by reading the views behind the URL patterns, with a meta-test
over all Form classes); test_regressions.py: the 5xx they found. Reproducible (derandomize),
bounded (a few examples each); FUZZ_EXAMPLES=100 explores further, FUZZ_REPORT=<file> writes
the examples run per test."""
