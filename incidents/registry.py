"""Hooks higher apps register so incidents can act on their rows without importing them.

`duplicate_movers`: callables `(duplicate=Incident, primary=Incident)` run inside the
mark-duplicate transaction (integrations moves the duplicate's alert groups to the primary).

`transition_hooks`: callables `(incident=Incident, previous=str, target=str)` run inside every
transition's transaction (integrations queues its outbound calls there, so a committed
transition never misses its call-back).

`requirement_checks`: callables `(incident=Incident, target=str) -> list[lifecycle.Missing]`,
asked by `lifecycle.missing_for`: what a higher app requires before a transition (postmortems:
closing an incident that needs a post-mortem requires a published one). Reads only.

`escalation_pagers`: callables `(run=EscalationRun, incident=Incident, now=datetime) -> str |
None` run inside the transaction that fires an escalation step; one whose step it handles
records its page (durably, sent on commit) and returns words for the timeline ("paged
PagerDuty service Payments"); others return None.

`creation_hooks`: callables `(incident=Incident)` run inside the declaration's transaction
(ticketing records the tracker's create call there, so a committed incident never misses it)."""

duplicate_movers: list = []
transition_hooks: list = []
requirement_checks: list = []
escalation_pagers: list = []
creation_hooks: list = []
