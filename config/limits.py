"""Length limits for free text in forms (docs/browser-security.md "Limits"). Model TextFields
have none, so every form field that takes free text sets one; tests/web/test_limits.py walks
every form and fails on a text field without a limit."""

from django.core.validators import MaxLengthValidator

LONG_TEXT = 20_000  # descriptions, summaries, post-mortem sections, notes
COMMENT_TEXT = 10_000  # timeline comments (incidents.forms.CommentForm)
SHORT_TEXT = 1_000  # one-line inputs, lists of keys or addresses
LABELS_JSON = 10_000  # JSON label matchers
PASSWORD = 4_096  # hashing a longer one is only work for an attacker


def limit_length(field, max_length: int) -> None:
    """Give a form field built from a model TextField (or JSONField) a maximum length: the
    validator that names the limit, and the browser's maxlength."""
    field.max_length = max_length
    field.validators.append(MaxLengthValidator(max_length))
    field.widget.attrs["maxlength"] = str(max_length)


class TextLimitsMixin:
    """For ModelForms: `text_limits = {"notes": LONG_TEXT}` caps those fields."""

    text_limits: dict[str, int] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, max_length in self.text_limits.items():
            if name in self.fields:
                limit_length(self.fields[name], max_length)
