"""Validating custom field values against their definitions."""

import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from taxonomy.models import CustomFieldDefinition

FieldType = CustomFieldDefinition.FieldType
TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off"}
MAX_TEXT = 2000


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def clean_value(definition: CustomFieldDefinition, value, *, member_ids: set[int] | None = None):
    """The stored (JSON) form of `value`, or a ValidationError saying what is wrong."""
    if _blank(value):
        return None
    kind = definition.field_type
    if kind == FieldType.TEXT:
        text = str(value).strip()
        if len(text) > MAX_TEXT:
            raise ValidationError(f"At most {MAX_TEXT} characters.")
        return text
    if kind == FieldType.NUMBER:
        if isinstance(value, bool):
            raise ValidationError("Enter a number.")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError("Enter a number.") from None
        if not number.is_finite():
            raise ValidationError("Enter a number.")
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValidationError("Answer yes or no.")
    if kind == FieldType.CHOICE:
        text = str(value).strip()
        if text not in definition.choices:
            raise ValidationError(f"Choose one of: {', '.join(definition.choices)}.")
        return text
    if kind == FieldType.DATE:
        if isinstance(value, datetime.datetime):
            return value.date().isoformat()
        if isinstance(value, datetime.date):
            return value.isoformat()
        try:
            return datetime.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValidationError("Enter a date as YYYY-MM-DD.") from None
    if kind == FieldType.USER:
        try:
            user_id = int(getattr(value, "pk", value))
        except (TypeError, ValueError):
            raise ValidationError("Choose a member of this organisation.") from None
        if member_ids is not None and user_id not in member_ids:
            raise ValidationError("Choose a member of this organisation.")
        return user_id
    raise ValidationError(f"Unknown field type {kind}.")


def clean_custom_fields(definitions, values: dict, *, member_ids: set[int] | None = None) -> dict:
    """Validate every value against its definition. Unknown keys are refused; blank values are
    dropped. Raises one ValidationError naming each bad field by its key."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValidationError({"custom_fields": "Custom fields must be an object of key: value."})
    by_key = {d.key: d for d in definitions}
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for key, value in values.items():
        definition = by_key.get(key)
        if definition is None:
            errors[f"cf_{key}"] = [f"“{key}” is not a custom field of this organisation."]
            continue
        try:
            stored = clean_value(definition, value, member_ids=member_ids)
        except ValidationError as error:
            errors[f"cf_{key}"] = [f"{definition.label}: {m}" for m in error.messages]
            continue
        if stored is not None:
            cleaned[key] = stored
    if errors:
        raise ValidationError(errors)
    return cleaned
