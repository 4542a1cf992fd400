"""What each KPI counts, in words: shown next to the number on the dashboard ("How is this
computed") and in docs/reporting.md. Keep in step with `reporting.kpis`."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Definition:
    key: str
    name: str
    text: str


PERIOD = (
    "The period is whole days in the organisation's time zone: from 00:00 of the first day to "
    "00:00 after the last day (a half-open range, so an instant at midnight belongs to the day "
    "it starts)."
)

EXCLUSIONS = (
    "Excluded by default: incidents dismissed as false positives, duplicates (marked duplicate "
    "or pointing at another incident), and test and game-day incidents. Vigil has no "
    "planned-maintenance marker on incidents: alerts that arrive inside a maintenance window are "
    "suppressed and open no incident, so planned maintenance never enters the counts in the "
    "first place; an incident declared by hand during maintenance counts like any other. "
    "“Include excluded incidents” counts them all and shows the difference. Restricted "
    "incidents count only for readers who may open them."
)

FILTERS = (
    "Team matches the owning team or an involved team; service matches the primary service or "
    "an affected service (as the incident list's filters do); severity and category are the "
    "incident's current ones."
)

KPIS = [
    Definition(
        "volume",
        "Incident volume",
        "Incidents reported in the period (by their reported time), after exclusions and "
        "filters. By severity and category: the incident's current one. By service: an "
        "incident counts once for its primary service and once for each other affected "
        "service, so the service bars can add up to more than the total; by team likewise "
        "for the owning and involved teams. A reopened incident counts once, in the period it "
        "was reported.",
    ),
    Definition(
        "mtta",
        "Mean time to acknowledge (MTTA)",
        "Over incidents acknowledged in the period: the mean and the median of acknowledged "
        "time − reported time. Acknowledged is the first move to Investigating; a reopen does "
        "not acknowledge again, so a reopened incident counts once, with its first "
        "acknowledgement. Numerator: the summed durations; denominator: the number of "
        "incidents.",
    ),
    Definition(
        "mttr",
        "Mean time to resolve (MTTR)",
        "Over incidents resolved in the period and still resolved or closed at the time of "
        "reading (a reopened incident drops out until it is resolved again, then counts in the "
        "period of its last resolution): the mean and the median repair time. Repair time is "
        "detected time → resolved time. For a reopened incident it is the sum of its impact "
        "periods (each from detection or the reopen to mitigation or resolution) plus the time "
        "from the end of the last impact period to the final resolution: the time between an "
        "earlier resolution and the reopen is not counted, because the service was thought "
        "healthy then, and nor is an earlier cycle's mitigated-but-unresolved time, which the "
        "impact periods do not record. For an incident never reopened the two agree.",
    ),
    Definition(
        "sla",
        "SLA compliance per phase",
        "Per phase (acknowledge, mitigate, resolve): met ÷ (met + breached), over SLA timers "
        "that ended in the period — met (without a breach) at their met time, or breached at "
        "their breach time. A timer met after its breach counts as breached. Timers stopped "
        "without a verdict (dismissed, duplicate, superseded by a reopen) and running timers "
        "are left out. A reopened incident has one timer per phase per impact period, each "
        "counted.",
    ),
    Definition(
        "cadence",
        "Status-update cadence adherence",
        "Status updates posted in the period that answered a cadence deadline (their severity "
        "had a required update interval): on time (posted by the deadline) ÷ all of them. "
        "Updates on incidents of a severity without a cadence are left out.",
    ),
    Definition(
        "postmortem_completion",
        "Post-mortem completion",
        "Over incidents resolved in the period (as for MTTR) whose post-mortem decision says "
        "one is required: the share with a published post-mortem (one later being revised "
        "still counts as published).",
    ),
    Definition(
        "postmortem_timeliness",
        "Post-mortem timeliness",
        "Of the published post-mortems above: the share first published by the review due "
        "time (a post-mortem without a review due time counts as on time).",
    ),
    Definition(
        "action_items",
        "Action-item completion",
        "Action items of the counted incidents' post-mortems with a due date in the period "
        "(dates in the organisation's time zone): done ÷ due. Items marked “won't do” are left "
        "out. On time: done items completed on or before their due date (completion date in "
        "the organisation's time zone) ÷ done items; the rest were late.",
    ),
    Definition(
        "reopen_rate",
        "Reopen rate",
        "Of the incidents reported in the period: the share reopened at least once so far.",
    ),
    Definition(
        "alert_share",
        "Alert-created incidents",
        "Of the incidents reported in the period: the share opened from an alert (source "
        "“Alert”), as opposed to by hand, the API or the command line.",
    ),
    Definition(
        "between",
        "Mean time between incidents per service",
        "Per primary service with at least two incidents reported in the period: (last "
        "reported time − first reported time) ÷ (number of incidents − 1). Only the primary "
        "service counts here, so each incident belongs to one service. Services with fewer "
        "than two incidents have no value.",
    ),
]

BY_KEY = {definition.key: definition for definition in KPIS}

# — the comparison page (reporting.normalise) ————————————————————————————————————————————

NORMALISATION = [
    Definition(
        "per_tier",
        "Incidents per service tier",
        "Per service tier (1–3): incidents reported in the period, after exclusions and "
        "filters, with a service of that tier as primary or affected service. An incident "
        "counts once per tier however many of its services are in it, and once in each tier "
        "it touches, so the tiers can add up to more than the total. Services: the active "
        "services of the tier at the time of reading. Incidents per service: incidents ÷ "
        "services (“—” for a tier without services). MTTR: the mean repair time (as for the "
        "dashboard's MTTR) of the incidents of the tier resolved in the period.",
    ),
    Definition(
        "per_team",
        "Incidents per team member",
        "Per team: incidents reported in the period, after exclusions and filters, with the "
        "team as owning or involved team (once each). Team size: the team's active members, "
        "counted at the time of reading, not as the team was during the period — members "
        "whose account is not deactivated and who are still members of the organisation. "
        "Incidents per member: incidents ÷ team size (“—” for a team without active members).",
    ),
    Definition(
        "per_exposure",
        "Incidents per exposure",
        "Per scope with a weekly exposure figure (the whole organisation, or one service) and "
        "unit: incidents ÷ exposure. Incidents: for the organisation, every incident counted "
        "on this page; for a service, those with it as primary or affected service. Exposure: "
        "the figures of the weeks (Monday to Sunday) that overlap the period, each counted pro "
        "rata by days — a week with three of its seven days in the period counts 3/7 of its "
        "value. Shown per 1,000 units when the period's exposure is at least 1,000, else per "
        "unit. If any week that overlaps the period has no figure for that scope and unit, or "
        "the exposure is 0, the value is “—” and the missing weeks are named: a rate over part "
        "of the period would not compare with a whole one.",
    ),
]

NORMALISATION_BY_KEY = {definition.key: definition for definition in NORMALISATION}

# Trends, before/after and anomalies (reporting/trends.py, the page /reports/trends/).
TRENDS = [
    Definition(
        "trend",
        "Trends",
        "Per week (Monday to Sunday) or calendar month in the organisation's time zone, only "
        "complete ones: incidents reported in it, MTTR over the incidents resolved in it and "
        "MTTA over those acknowledged in it, each as the dashboard defines it, with the "
        "dashboard's exclusions and filters. Change: (last − previous) ÷ previous and "
        "(last − first) ÷ first, as a percentage (none when the earlier value is 0 or "
        "missing). The trend line is the ordinary least-squares line through the buckets "
        "that have a value; its slope is the change per week or month.",
    ),
    Definition(
        "before_after",
        "Before and after a date",
        "The N whole weeks (seven-day spans) before the chosen date and the N from it, N "
        "clipped so that every week after the date ended by yesterday (both sides the same "
        "length; at least one week). Per side: incidents reported ÷ weeks, MTTR and MTTA means "
        "and SLA compliance per phase as the dashboard defines them. Change: after − before, "
        "and (after − before) ÷ before as a percentage.",
    ),
    Definition(
        "anomalies",
        "Baselines and anomalies",
        "Per service (its incidents as primary or affected service, as the incident list's "
        "service filter counts) and per category: the incidents reported in each week "
        "(Monday to Sunday, organisation's time zone) and the mean repair time of those "
        "resolved in it. A week's baseline is the mean and the sample standard deviation σ "
        "(divisor n − 1) of the 12 weeks before it. For counts a week without incidents counts "
        "as 0, but weeks before the week of the organisation's first counted incident are not "
        "history; for repair time only weeks with a resolved incident are. With fewer than 4 "
        "weeks of history there is no baseline and no flag. A week is flagged when its value "
        "is above mean + 2σ (with σ = 0, above the mean) and, for counts, at least 3 "
        "incidents. Only weeks lying wholly inside the period are flagged.",
    ),
]
KPIS += TRENDS
BY_KEY.update({definition.key: definition for definition in TRENDS})

ROOT_CAUSES = Definition(
    "root_causes",
    "Root-cause breakdown",
    "Incidents resolved in the period (as for MTTR: still resolved or closed at the time of "
    "reading, counted in the period of their last resolution), after exclusions and filters, "
    "by their root-cause category; an incident without one counts as “Not set”. Per month: "
    "the same incidents by the calendar month of their resolution in the organisation's time "
    "zone, the first and last month cut to the period.",
)

TEAM_OPEN = Definition(
    "team_open",
    "Open now",
    "The team's incidents (owning or involved team) that are open at the time of reading — "
    "reported, investigating or mitigated — whatever their reported date, after the "
    "exclusions, by their current severity. Restricted incidents count only for readers who "
    "may open them.",
)

TEAM_ACTIONS = Definition(
    "team_actions",
    "Action items overdue or due within 7 days",
    "Action items assigned to the team, open or in progress, whose due date is before today "
    "(overdue) or within the next 7 days (dates in the organisation's time zone), of "
    "post-mortems of incidents the reader may see; soonest first.",
)
