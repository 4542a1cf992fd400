"""taxonomy.custom_fields: each field type cleans its value to the stored JSON form or names
what is wrong; a whole set of values is refused field by field, keyed `cf_<key>`."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from taxonomy.custom_fields import clean_custom_fields, clean_value
from taxonomy.models import CustomFieldDefinition

FieldType = CustomFieldDefinition.FieldType


def field(field_type, key="field", label="Field", **kwargs) -> CustomFieldDefinition:
    return CustomFieldDefinition(key=key, label=label, field_type=field_type, **kwargs)


TEXT = field(FieldType.TEXT)
NUMBER = field(FieldType.NUMBER)
BOOLEAN = field(FieldType.BOOLEAN)
CHOICE = field(FieldType.CHOICE, choices=["EU", "US"])
DATE = field(FieldType.DATE)
USER = field(FieldType.USER)


@pytest.mark.parametrize("definition", [TEXT, NUMBER, BOOLEAN, CHOICE, DATE, USER])
@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_value_of_any_type_is_none(definition, blank):
    assert clean_value(definition, blank) is None


def test_text_is_stripped():
    assert clean_value(TEXT, "  Card payments  ") == "Card payments"


def test_overlong_text_is_refused():
    with pytest.raises(ValidationError, match="At most 2000 characters"):
        clean_value(TEXT, "x" * 2001)


@pytest.mark.parametrize(
    ("value", "stored"),
    [("42", 42), (" 7 ", 7), (3, 3), ("4.5", 4.5), (2.25, 2.25), ("1e3", 1000), ("-2", -2)],
)
def test_numbers_are_stored_as_int_when_whole_else_float(value, stored):
    cleaned = clean_value(NUMBER, value)

    assert cleaned == stored
    assert type(cleaned) is type(stored)


@pytest.mark.parametrize("value", ["many", "12abc", True, False, "NaN", "Infinity", "-inf"])
def test_what_is_not_a_finite_number_is_refused(value):
    with pytest.raises(ValidationError, match="Enter a number"):
        clean_value(NUMBER, value)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (True, True),
        (False, False),
        ("yes", True),
        ("On", True),
        ("1", True),
        ("no", False),
        ("OFF", False),
        ("0", False),
        (0, False),
    ],
)
def test_booleans_accept_yes_no_words(value, stored):
    assert clean_value(BOOLEAN, value) is stored


def test_a_boolean_that_is_neither_yes_nor_no_is_refused():
    with pytest.raises(ValidationError, match="Answer yes or no"):
        clean_value(BOOLEAN, "maybe")


def test_a_choice_must_be_one_of_the_options():
    assert clean_value(CHOICE, " EU ") == "EU"
    with pytest.raises(ValidationError, match="Choose one of: EU, US"):
        clean_value(CHOICE, "APAC")


def test_choices_are_case_sensitive():
    with pytest.raises(ValidationError):
        clean_value(CHOICE, "eu")


@pytest.mark.parametrize(
    ("value", "stored"),
    [("2024-02-29", "2024-02-29"), (datetime.date(2024, 12, 31), "2024-12-31")],
)
def test_dates_are_stored_in_iso_form(value, stored):
    assert clean_value(DATE, value) == stored


@pytest.mark.parametrize("value", ["2023-02-29", "31/12/2024", "tomorrow", "2024-13-01"])
def test_what_is_not_a_date_is_refused(value):
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        clean_value(DATE, value)


def test_a_datetime_given_for_a_date_field_is_stored_as_its_date():
    value = datetime.datetime(2024, 5, 1, 10, 30, tzinfo=datetime.UTC)

    assert clean_value(DATE, value) == "2024-05-01"


def test_a_person_is_stored_by_id_when_a_member():
    class Member:
        pk = 7

    assert clean_value(USER, "7", member_ids={7, 8}) == 7
    assert clean_value(USER, Member(), member_ids={7}) == 7


@pytest.mark.parametrize("value", ["9", "someone", 9])
def test_a_person_who_is_not_a_member_is_refused(value):
    with pytest.raises(ValidationError, match="Choose a member of this organisation"):
        clean_value(USER, value, member_ids={7, 8})


def test_clean_custom_fields_cleans_each_value_and_drops_blanks():
    definitions = [
        field(FieldType.NUMBER, key="customers"),
        field(FieldType.CHOICE, key="region", choices=["EU", "US"]),
        field(FieldType.TEXT, key="note"),
    ]

    cleaned = clean_custom_fields(definitions, {"customers": "12", "region": "US", "note": " "})

    assert cleaned == {"customers": 12, "region": "US"}


def test_clean_custom_fields_names_every_bad_field_by_key():
    definitions = [
        field(FieldType.NUMBER, key="customers", label="Customers"),
        field(FieldType.DATE, key="since", label="Since"),
        field(FieldType.TEXT, key="note"),
    ]

    with pytest.raises(ValidationError) as refused:
        clean_custom_fields(
            definitions,
            {"customers": "lots", "since": "yesterday", "note": "fine", "colour": "red"},
        )

    assert refused.value.message_dict == {
        "cf_customers": ["Customers: Enter a number."],
        "cf_since": ["Since: Enter a date as YYYY-MM-DD."],
        "cf_colour": ["“colour” is not a custom field of this organisation."],
    }


def test_clean_custom_fields_refuses_what_is_not_an_object():
    with pytest.raises(ValidationError) as refused:
        clean_custom_fields([TEXT], ["field", "value"])

    assert list(refused.value.message_dict) == ["custom_fields"]


def test_clean_custom_fields_of_nothing_is_empty():
    assert clean_custom_fields([TEXT], None) == {}
    assert clean_custom_fields([TEXT], {}) == {}


def test_clean_custom_fields_checks_people_against_the_members():
    definitions = [field(FieldType.USER, key="owner", label="Owner")]

    with pytest.raises(ValidationError) as refused:
        clean_custom_fields(definitions, {"owner": 5}, member_ids={1, 2})

    assert refused.value.message_dict == {
        "cf_owner": ["Owner: Choose a member of this organisation."]
    }
