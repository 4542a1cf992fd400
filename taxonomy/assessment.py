"""The severity assessment: objective answers in, a proposed severity with its reasons out."""

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Answers:
    customer_visible: bool = False
    users_affected_pct: Decimal = Decimal(0)
    downtime_minutes: int = 0
    revenue_at_risk: bool = False
    data_at_risk: bool = False
    regulatory_exposure: bool = False

    def as_dict(self) -> dict:
        return {
            "customer_visible": self.customer_visible,
            "users_affected_pct": str(self.users_affected_pct),
            "downtime_minutes": self.downtime_minutes,
            "revenue_at_risk": self.revenue_at_risk,
            "data_at_risk": self.data_at_risk,
            "regulatory_exposure": self.regulatory_exposure,
        }


@dataclass(frozen=True)
class Proposal:
    severity: object  # SeverityLevel
    reasons: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        if not self.reasons:
            return f"{self.severity.name}: no criterion of a stronger level is met"
        return f"{self.severity.name}: " + ", ".join(self.reasons)


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f} %"


def _reasons(level, answers: Answers) -> list[str] | None:
    """Why `level` applies, or None when it does not."""
    if level.requires_customer_visible and not answers.customer_visible:
        return None
    met = []
    if (
        level.min_users_affected_pct is not None
        and answers.users_affected_pct >= level.min_users_affected_pct
    ):
        met.append(f"{_pct(answers.users_affected_pct)} of users")
    if (
        level.min_downtime_minutes is not None
        and answers.downtime_minutes >= level.min_downtime_minutes
    ):
        met.append(f"≥ {level.min_downtime_minutes} min downtime")
    if level.on_revenue_at_risk and answers.revenue_at_risk:
        met.append("revenue at risk")
    if level.on_data_at_risk and answers.data_at_risk:
        met.append("data at risk")
    if level.on_regulatory_exposure and answers.regulatory_exposure:
        met.append("regulatory exposure")
    if not met:
        return None
    if level.requires_customer_visible:
        met.insert(0, "customer-visible")
    return met


def propose_severity(levels, answers: Answers) -> Proposal | None:
    """The strongest level whose criteria the answers meet; the weakest level when none is."""
    ordered = sorted(levels, key=lambda lvl: lvl.level)
    if not ordered:
        return None
    for level in ordered:
        reasons = _reasons(level, answers)
        if reasons is not None:
            return Proposal(level, reasons)
    return Proposal(ordered[-1], [])
