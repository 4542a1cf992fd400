"""Which form every org page posts (or reads from its query string), found by reading the
views behind the URL patterns, and how to fill those forms with hostile values."""

import datetime as dt
import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, field

from django import forms
from django.apps import apps
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import strategies as st

from tests.fuzz import strategies as fz

FORM_NAME = re.compile(r"\b([A-Z]\w*Form)\b")
FILTERSET = re.compile(r"\b([A-Z]\w*FilterSet)\(")
PREFIX = re.compile(r"prefix=\"(\w+)\"")
LOOKUP = re.compile(r"get_object_or_404\(\s*(\w+)")


@dataclass
class Route:
    route: str  # "o/<slug:org_slug>/incidents/<str:key>/comment/"
    name: str
    view: object
    forms: dict[str, type] = field(default_factory=dict)  # name → class
    prefixes: list[str] = field(default_factory=list)
    models: list[type] = field(default_factory=list)  # what its get_object_or_404 looks up
    filters: list[str] = field(default_factory=list)  # django-filter fields it reads from GET

    @property
    def id(self) -> str:
        return self.route.removeprefix("o/<slug:org_slug>/") or "/"


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _function(callback):
    view = getattr(callback, "view_class", None) or callback
    return inspect.unwrap(view)


def _is_form(value) -> bool:
    return isinstance(value, type) and issubclass(value, forms.BaseForm)


CALL = re.compile(r"\b([a-z_]\w*)\(")


def _helpers_source(source: str, namespace: dict, view) -> str:
    """The source of the same module's functions the view calls (one level): views often
    build their form in a helper (`_team_form(request, team)`)."""
    module = getattr(view, "__module__", None)
    extra = []
    for name in sorted(set(CALL.findall(source))):
        helper = namespace.get(name)
        if inspect.isfunction(helper) and helper.__module__ == module and helper is not view:
            try:
                extra.append(inspect.getsource(helper))
            except (OSError, TypeError):
                continue
    return "\n".join(extra)


def org_routes(known: dict[str, type]) -> list[Route]:
    """Every /o/<org>/ page whose view reads a Django form (named in its source or as its
    form_class), with the form classes; `known` resolves names imported inside functions."""
    by_name: dict[str, list[type]] = {}
    for cls in known.values():
        by_name.setdefault(cls.__name__, []).append(cls)
    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("o/"):
            continue
        view = _function(pattern.callback)
        try:
            source = inspect.getsource(view)
        except (OSError, TypeError):
            continue
        namespace = getattr(view, "__globals__", None) or vars(inspect.getmodule(view))
        source += _helpers_source(source, namespace, view)
        classes = {}
        for name in sorted(set(FORM_NAME.findall(source))):
            value = namespace.get(name)
            if not _is_form(value) and len(by_name.get(name, [])) == 1:
                value = by_name[name][0]
            if _is_form(value):
                classes[name] = value
        form_class = getattr(getattr(pattern.callback, "view_class", None), "form_class", None)
        if _is_form(form_class):
            classes[form_class.__name__] = form_class
        filters = []
        for name in FILTERSET.findall(source):
            filterset = namespace.get(name)
            filters += list(getattr(filterset, "base_filters", {}))
        if not classes and not filters:
            continue
        models = [
            namespace[m]
            for m in LOOKUP.findall(source)
            if isinstance(namespace.get(m), type) and hasattr(namespace[m], "_meta")
        ]
        prefixes = sorted(set(PREFIX.findall(source)))
        found.append(Route(route, pattern.name, view, classes, prefixes, models, filters))
    return found


def all_form_classes() -> dict[str, type]:
    """Every Form/ModelForm class defined in Vigil's apps."""
    found = {}
    for app in apps.get_app_configs():
        # Vigil's own apps only: a virtualenv inside the checkout (a fresh clone's .venv) holds
        # third-party apps under BASE_DIR too, and importing all their modules registers
        # models of apps that are not installed (django_otp's e-mail device).
        if not app.path.startswith(str(settings.BASE_DIR)) or "site-packages" in app.path:
            continue
        for module_info in pkgutil.walk_packages([app.path], prefix=app.name + "."):
            if "migrations" in module_info.name or "tests" in module_info.name:
                continue
            try:
                module = importlib.import_module(module_info.name)
            except Exception:  # noqa: BLE001, S112 — management commands etc. need arguments
                continue
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if (
                    issubclass(cls, forms.BaseForm)
                    and cls.__module__ == module.__name__
                    and cls.__module__.split(".")[0] == app.name.split(".")[0]
                ):
                    found[form_label(cls)] = cls
    return found


def form_label(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# — values per field type ————————————————————————————————————————————————————————————————

ids = st.one_of(st.integers(-3, 40).map(str), st.sampled_from(["", "0", "1", "9" * 25, "1.5"]))
numbers = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "1e309", "-0", "NaN", "inf", "1,5", "٣", "0x10", " 7 "]),
)
days = st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(str)
moments = st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30)).map(  # noqa: DTZ001
    lambda d: d.isoformat(sep=" ")
)
odd_times = st.sampled_from(
    ["", "0000-00-00", "2026-02-30", "2026-13-01", "31/12/2026", "now", "24:61", "-1 day", "P1D"]
)
emails = st.one_of(st.emails().map(lambda e: e[:80]), fz.text)


def _choices(field) -> list[str]:
    try:
        return [str(value) for value, _ in field.choices if not isinstance(_, list | tuple)][:30]
    except Exception:  # noqa: BLE001 — model choice fields need a queryset to list choices
        return []


def value_for(field) -> st.SearchStrategy:
    """Hostile and plausible values for one form field, as POST strings."""
    if isinstance(field, forms.BooleanField | forms.NullBooleanField):
        return st.sampled_from(["on", "", "true", "false", "1", "0", "unknown", "\x00"])
    if isinstance(field, forms.ModelMultipleChoiceField | forms.MultipleChoiceField):
        single = st.one_of(ids, fz.text, st.sampled_from(_choices(field) or ["x"]))
        return st.lists(single, max_size=4)
    if isinstance(field, forms.ModelChoiceField):
        return st.one_of(ids, fz.text)
    if isinstance(field, forms.ChoiceField):
        return st.one_of(st.sampled_from(_choices(field) or [""]), fz.text)
    if isinstance(field, forms.IntegerField | forms.FloatField | forms.DecimalField):
        return numbers
    if isinstance(field, forms.DateTimeField | forms.SplitDateTimeField):
        return st.one_of(moments, odd_times, days)
    if isinstance(field, forms.DateField):
        return st.one_of(days, odd_times)
    if isinstance(field, forms.TimeField | forms.DurationField):
        return st.one_of(st.times().map(str), odd_times, numbers)
    if isinstance(field, forms.EmailField):
        return emails
    if isinstance(field, forms.JSONField):
        return st.one_of(fz.json_values.map(lambda v: fz.encode(v).decode()), fz.text)
    return st.one_of(fz.text, st.just("Checkout fails"))


@st.composite
def form_data(draw, route: Route) -> dict:
    """Data for every form the route's view reads: each field present or missing, with a
    value for its type or anything, plus stray keys."""
    data: dict = {}
    for cls in route.forms.values():
        for name, fld in cls.base_fields.items():
            if draw(st.integers(0, 5)) == 0:
                continue
            value = draw(value_for(fld) if draw(st.integers(0, 4)) else fz.text)
            for prefix in ["", *route.prefixes]:
                data[f"{prefix}-{name}" if prefix else name] = value
    for name in route.filters:
        if draw(st.booleans()):
            data[name] = draw(st.one_of(ids, days, odd_times, fz.text))
    for key, value in draw(st.dictionaries(fz.text, fz.text, max_size=2)).items():
        data.setdefault(key, value)
    return data
