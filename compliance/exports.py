"""Helpers every compliance CSV export shares."""

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """Stop spreadsheet formula injection: a cell starting with = + - @, a tab or a carriage
    return is prefixed with a single quote, so a spreadsheet shows it as text. (The incident
    list's CSV export in incidents/views.py has the same rule as `_csv_safe`.)"""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
