"""What every adapter turns a sender's payload into: a list of NormalizedAlert."""

import datetime
from dataclasses import dataclass, field


class PayloadError(ValueError):
    """The body is not what this kind of source sends. The message is shown to the sender in
    a 400 answer, so it says what is wrong and where (e.g. "alerts[2].status: missing")."""


@dataclass
class NormalizedAlert:
    fingerprint: str  # stable identity of the alert at the sender (dedup key)
    status: str  # "firing" or "resolved" (also "acknowledged" for PagerDuty-style events)
    title: str
    severity: str = ""  # the sender's own word (critical, warning, error, P1 …), lower-case
    labels: dict[str, str] = field(default_factory=dict)  # flat string → string
    annotations: dict[str, str] = field(default_factory=dict)
    description: str = ""
    starts_at: datetime.datetime | None = None
    ends_at: datetime.datetime | None = None
    links: list[str] = field(default_factory=list)
    group_key: str = ""  # the sender's grouping (Alertmanager groupKey), if any
    source_ref: str = ""  # the sender's id for this event (dedup_key, issue id, sid …)
