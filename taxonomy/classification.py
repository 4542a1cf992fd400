"""Static classification: the organisation's ordered rules, matched against an incident's
text, service and source labels. Pure functions: no writes."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleMatch:
    rule: object  # ClassificationRule
    category: object = None
    severity: object = None
    service: object = None
    team: object = None

    @property
    def explanation(self) -> str:
        parts = [
            f"{name} {value}"
            for name, value in (
                ("category", self.category),
                ("severity", self.severity),
                ("service", self.service),
                ("team", self.team),
            )
            if value is not None
        ]
        return f"Rule “{self.rule.name}” sets " + ", ".join(parts)


def rule_matches(rule, *, text: str, service_id: int | None, labels: dict) -> bool:
    if rule.match_text.strip():
        haystack = text.lower()
        if not all(word in haystack for word in rule.match_text.lower().split()):
            return False
    if rule.match_service_id and rule.match_service_id != service_id:
        return False
    return all(
        str(labels.get(key, "")) == value for key, value in (rule.match_labels or {}).items()
    )


def classify_static(rules, *, text: str, service_id: int | None = None, labels: dict | None = None):
    """The first active rule (in position order) that matches, with what it sets; or None."""
    for rule in sorted(rules, key=lambda r: (r.position, r.pk or 0)):
        if rule.is_active and rule_matches(
            rule, text=text, service_id=service_id, labels=labels or {}
        ):
            return RuleMatch(
                rule=rule,
                category=rule.set_category,
                severity=rule.set_severity,
                service=rule.set_service,
                team=rule.set_team,
            )
    return None
