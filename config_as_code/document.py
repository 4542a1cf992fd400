"""A whole configuration document: export an organisation to YAML, and read a YAML file into
a validated, normalised document (refusing it, with every reason and path, if it is not)."""

import yaml

from compliance.forms import DEADLINE_LIMITS
from compliance.models import Framework, Obligation
from integrations.models import AlertSource
from integrations.pagerduty.models import PagerDutyService
from taxonomy.models import Category, CustomFieldDefinition, Service, SeverityLevel
from tenancy.models import Membership, Organization, Team
from tenancy.scoping import org_scope

from .families import BY_NAME, FAMILIES, export_family
from .schema import VERSION, normalise_item, normalise_list

POSITIONS = "_positions"  # not a family: the file index of each object, by natural key


class MalformedFile(Exception):  # noqa: N818
    """The file is not YAML at all; the message names the line and column."""


def export_document(organization: Organization) -> dict:
    """Everything `export_config` writes for the organisation, in file order."""
    document = {"version": VERSION}
    with org_scope(organization):
        for family in FAMILIES:
            value = export_family(family, organization)
            if value is not None:
                document[family.name] = value
    return document


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, long text kept readable."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(document: dict) -> str:
    return yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (YAML would keep the last
    silently, so half of a hand-edited object would vanish without a word)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found the key “{key}” twice (first on line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)


def load(text: str):
    """The YAML file as Python data; MalformedFile with line, column and reason if not YAML."""
    if "\t" in text:
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.lstrip(" ")
            if stripped.startswith("\t"):
                column = len(line) - len(stripped) + 1
                raise MalformedFile(
                    f"line {number}, column {column}: a tab is used for indentation; "
                    "YAML indents with spaces only"
                )
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 — a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = error.problem or error.context or "not valid YAML"
        if error.context and error.problem:
            reason = f"{error.problem} ({error.context})"
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise MalformedFile(f"{where}{reason}") from None
    except yaml.YAMLError as error:
        raise MalformedFile(str(error)) from None


def validate(data, organization: Organization) -> tuple[dict | None, list[str]]:
    """The normalised document, or None and the list of errors (each with its path).
    References must name an object of the file or of the organisation."""
    errors: list[str] = []
    if not isinstance(data, dict):
        return None, ["the file must be a mapping with `version: 1` and one list per family"]
    if "version" not in data:
        errors.append("version: is required (version: 1)")
    elif type(data["version"]) is not int or data["version"] != VERSION:
        errors.append(f"version: must be {VERSION}")
    for key in data:
        if key != "version" and key not in BY_NAME:
            errors.append(f"{key}: unknown key (expected one of: {', '.join(BY_NAME)})")
    document = {"version": VERSION}
    for family in FAMILIES:
        if family.name not in data:
            continue  # a family left out is left alone
        raw = data[family.name]
        if family.single:
            value = None if raw is None else normalise_item(family, raw, family.name, errors)
        else:
            value = normalise_list(family, raw, family.name, errors)
        if value is not None:
            document[family.name] = value
    if errors:
        return None, errors
    _check_references(document, organization, errors)
    _check_rules(document, errors)
    if errors:
        return None, errors
    # Where each object sits in the file, so that a write refused later names its path.
    document[POSITIONS] = {
        family.name: {family.key(item): index for index, item in enumerate(document[family.name])}
        for family in FAMILIES
        if family.name in document and not family.single
    }
    for family in FAMILIES:
        if family.name in document and not family.single:
            document[family.name].sort(key=family.sort)
        elif family.single and document.get(family.name):
            for name, nested in family.nested.items():
                document[family.name][name].sort(key=nested.sort)
    return document, []


def _org_names(organization) -> dict[str, dict]:
    """family → {natural key: canonical spelling} of what the organisation already has."""
    with org_scope(organization):
        org = organization
        return {
            "teams": {n.casefold(): n for n in _names(Team, org)},
            "categories": {n.casefold(): n for n in _names(Category, org)},
            "services": {n.casefold(): n for n in _names(Service, org)},
            "alert_sources": {n.casefold(): n for n in _names(AlertSource, org)},
            "severity_levels": {
                lv: lv
                for lv in SeverityLevel.objects.filter(organization=org).values_list(
                    "level", flat=True
                )
            },
            "compliance_frameworks": {
                k: k
                for k in Framework.objects.filter(organization=org).values_list("key", flat=True)
            },
            "compliance_obligations": {
                k: k
                for k in Obligation.objects.filter(organization=org).values_list("key", flat=True)
            },
            "custom_fields": {
                k: k
                for k in CustomFieldDefinition.objects.filter(organization=org).values_list(
                    "key", flat=True
                )
            },
            "pagerduty_services": {n.casefold(): n for n in _names(PagerDutyService, org)},
            "users": {
                e.casefold(): e
                for e in Membership.objects.filter(organization=org).values_list(
                    "user__email", flat=True
                )
            },
        }


def _names(model, organization):
    return model.objects.filter(organization=organization).values_list("name", flat=True)


def _fold(value):
    return value.casefold() if isinstance(value, str) else value


def _check_references(document: dict, organization, errors: list[str]) -> None:
    """Each reference names an object of the file (first) or of the organisation; it is
    rewritten with that object's own spelling so that the comparison is exact."""
    known = _org_names(organization)
    for family in FAMILIES:
        if family.name in document and not family.single:
            for item in document[family.name]:
                if family.name == "severity_levels":
                    spelling = item["level"]
                else:
                    spelling = item["key"] if "key" in family.fields else item.get("name")
                known.setdefault(family.name, {})[family.key(item)] = spelling

    def resolve(target: str, value, path: str):
        found = known.get(target, {}).get(_fold(value))
        if found is None:
            what = target.replace("_", " ").rstrip("s")
            where = (
                "the organisation (alert sources are not part of the file)"
                if target in ("alert_sources", "users", "pagerduty_services")
                else "the file nor the organisation"
            )
            errors.append(f"{path}: no {what} “{value}” in {where}")
            return value
        return found

    for family in FAMILIES:
        items = document.get(family.name)
        if not items or family.single:
            continue
        for index, item in enumerate(items):
            path = f"{family.name}[{index}]"
            for name, spec in family.fields.items():
                value = item.get(name)
                if spec.ref is None or value is None:
                    continue
                if isinstance(value, list):
                    item[name] = sorted(
                        (resolve(spec.ref, v, f"{path}.{name}") for v in value), key=str.casefold
                    )
                else:
                    item[name] = resolve(spec.ref, value, f"{path}.{name}")
            for step_index, step in enumerate(
                item.get("steps", []) if family.name == "escalation_paths" else []
            ):
                step_path = f"{path}.steps[{step_index}]"
                if "team" in step:
                    step["team"] = resolve("teams", step["team"], f"{step_path}.team")
                if "user" in step:
                    step["user"] = resolve("users", step["user"], f"{step_path}.user")
                if "pagerduty" in step:
                    step["pagerduty"] = resolve(
                        "pagerduty_services", step["pagerduty"], f"{step_path}.pagerduty"
                    )
            if family.name == "compliance_obligations":
                _check_obligation_fields(item, path, set(known.get("custom_fields", {})), errors)


def _check_obligation_fields(item: dict, path: str, custom_keys: set, errors: list[str]) -> None:
    """What the obligation form checks: custom fields named by the trigger and the field map
    exist; field map entries are incident.<field>, facts.<field> or custom:<key>."""
    if item["trigger"].startswith("custom:"):
        key = item["trigger"].removeprefix("custom:")
        if key not in custom_keys:
            errors.append(
                f"{path}.trigger: no custom field “{key}” in the file nor the organisation"
            )
    for section, refs in item["field_map"].items():
        for ref in refs:
            if not (
                ref.startswith(("incident.", "facts."))
                or (ref.startswith("custom:") and ref.removeprefix("custom:") in custom_keys)
            ):
                errors.append(
                    f"{path}.field_map.{section}: “{ref}” is not incident.<field>, "
                    "facts.<field> or custom:<key> of a custom field"
                )


def _check_rules(document: dict, errors: list[str]) -> None:
    """Rules across fields that the database would only refuse at write time."""
    for index, item in enumerate(document.get("categories", [])):
        if item["parent"] and item["parent"].casefold() == item["name"].casefold():
            errors.append(f"categories[{index}].parent: a category cannot be its own parent")
    parents = {i["name"].casefold(): i["parent"] for i in document.get("categories", [])}
    for index, item in enumerate(document.get("categories", [])):
        if item["parent"] and parents.get(item["parent"].casefold()):
            errors.append(f"categories[{index}].parent: categories nest one level only")
    for index, item in enumerate(document.get("custom_fields", [])):
        path = f"custom_fields[{index}].choices"
        if item["field_type"] == "choice" and not item["choices"]:
            errors.append(f"{path}: a choice field needs a list of options")
        if item["field_type"] != "choice" and item["choices"]:
            errors.append(f"{path}: only choice fields have options")
    for index, item in enumerate(document.get("maintenance_windows", [])):
        if item["ends_at"] <= item["starts_at"]:
            errors.append(f"maintenance_windows[{index}].ends_at: must be after starts_at")
    seen = {}
    for index, item in enumerate(document.get("escalation_paths", [])):
        pair = (item["severity"], (item["category"] or "").casefold())
        if pair in seen:
            errors.append(
                f"escalation_paths[{index}]: severity {item['severity']} already has a path "
                f"for this category: “{seen[pair]}”"
            )
        seen[pair] = item["name"]
    for index, item in enumerate(document.get("classification_rules", [])):
        path = f"classification_rules[{index}]"
        if not (item["match_text"].strip() or item["match_service"] or item["match_labels"]):
            errors.append(f"{path}: a rule needs at least one condition (text, service, labels)")
        if not any(item[k] for k in ("set_category", "set_severity", "set_service", "set_team")):
            errors.append(f"{path}: a rule must set category, severity, service or team")
    for index, item in enumerate(document.get("compliance_obligations", [])):
        path = f"compliance_obligations[{index}]"
        if item["previous"] == item["key"]:
            errors.append(f"{path}.previous: cannot be itself")
        if item["clock_start"] == "previous_submitted" and not item["previous"]:
            errors.append(f"{path}.previous: name the notice whose submission starts this clock")
        unit, amount = item["deadline_unit"], item["deadline_amount"]
        if unit != "none" and not amount:
            errors.append(f"{path}.deadline_amount: give the number of hours, days or months")
        limit = DEADLINE_LIMITS.get(unit)
        if limit and amount > limit[0]:
            errors.append(f"{path}.deadline_amount: at most {limit[0]:,} {limit[1]}")
        latest = item["latest_hours_after_awareness"]
        if latest and latest > DEADLINE_LIMITS["hours"][0]:
            errors.append(f"{path}.latest_hours_after_awareness: at most 8,760 hours (a year)")


__all__ = ["BY_NAME", "MalformedFile", "dump", "export_document", "load", "validate"]
