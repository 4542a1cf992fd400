"""Escalation-step targets that live in higher apps (taxonomy never imports them).

`step_targets`: target kind → an object with `choices(organization) -> list[(value, label)]`
(what an escalation step of that kind may point at, in this organisation) and
`label(organization_id, value) -> str` (how a step shows its target). The integrations app
registers "pagerduty" (its PagerDuty services, by public id)."""

step_targets: dict = {}


def step_target_choices(kind: str, organization) -> list[tuple[str, str]]:
    provider = step_targets.get(kind)
    return list(provider.choices(organization)) if provider else []


def step_target_label(step) -> str:
    provider = step_targets.get(step.target_kind)
    if provider is None:
        return f"{step.get_target_kind_display()} {step.integration_target}"
    return provider.label(step.organization_id, step.integration_target)
