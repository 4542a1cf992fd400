"""Field mapping: the references an obligation's `field_map` uses, resolved on one incident.

A reference is `incident.<field>` (a field of the incident; foreign keys give their name,
many-to-many fields a comma-separated list, choices their label), `facts.<field>` (the
incident's regulatory facts) or `custom:<key>` (a custom field). `resolve` returns the display
value or None when the value is missing; `missing` names what a report still lacks."""

from django.core.exceptions import FieldDoesNotExist

from compliance.models import IncidentFacts, Obligation
from incidents.models import Incident


def _field_value(obj, name: str):
    try:
        field = obj._meta.get_field(name)
    except FieldDoesNotExist:
        return getattr(obj, name, None)
    if field.many_to_many:
        return ", ".join(str(o) for o in getattr(obj, name).all()) or None
    if field.choices:
        value = getattr(obj, name)
        return getattr(obj, f"get_{name}_display")() if value not in (None, "") else None
    return getattr(obj, name)


def label(ref: str) -> str:
    """A human name for a reference."""
    source, _, name = (
        ref.partition(".") if not ref.startswith("custom:") else ("custom", "", ref[7:])
    )
    model = {"incident": Incident, "facts": IncidentFacts}.get(source)
    if model is not None:
        try:
            return str(model._meta.get_field(name).verbose_name).capitalize()
        except FieldDoesNotExist:
            return name.replace("_", " ").capitalize()
    return name.replace("_", " ").capitalize()


def resolve(ref: str, incident: Incident, facts: IncidentFacts | None):
    """The value `ref` points at on `incident`, or None when it is empty or unknown."""
    if ref.startswith("custom:"):
        value = (incident.custom_fields or {}).get(ref[7:])
    elif ref.startswith("incident."):
        value = _field_value(incident, ref[9:])
    elif ref.startswith("facts."):
        if facts is None:
            return None
        name = ref[6:]
        value = (
            facts.aware_at or incident.reported_at
            if name == "aware_at"
            else _field_value(facts, name)
        )
    else:
        return None
    if value in (None, "", [], {}):
        return None
    return value


def sections(obligation: Obligation, incident: Incident, facts: IncidentFacts | None) -> list[dict]:
    """The obligation's report sections, each with its fields' labels and values (None when
    missing)."""
    result = []
    for title, refs in (obligation.field_map or {}).items():
        fields = [
            {"ref": ref, "label": label(ref), "value": resolve(ref, incident, facts)}
            for ref in refs
        ]
        result.append({"title": title, "fields": fields})
    return result


def missing(obligation: Obligation, incident: Incident, facts: IncidentFacts | None) -> list[str]:
    """Labels of the mapped fields that are still empty, in report order, without repeats."""
    seen = []
    for section in sections(obligation, incident, facts):
        for field in section["fields"]:
            if field["value"] is None and field["label"] not in seen:
                seen.append(field["label"])
    return seen
