"""Hooks higher apps register so incidents can act on their rows without importing them.

`duplicate_movers`: callables `(duplicate=Incident, primary=Incident)` run inside the
mark-duplicate transaction (integrations moves the duplicate's alerts to the primary)."""

duplicate_movers: list = []
