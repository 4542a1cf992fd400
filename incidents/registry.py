"""Hooks higher apps register so incidents can act on their rows without importing them.

`duplicate_movers`: callables `(duplicate=Incident, primary=Incident)` run inside the
mark-duplicate transaction (integrations moves the duplicate's alert groups to the primary).

`transition_hooks`: callables `(incident=Incident, previous=str, target=str)` run inside every
transition's transaction (integrations queues its outbound calls there, so a committed
transition never misses its call-back)."""

duplicate_movers: list = []
transition_hooks: list = []
