"""The organisation's alert pages: alert sources (list, health, create, edit, enable, rotate,
send a test alert), correlation rules (with "try this rule" against the last 7 days) and
maintenance windows.

Thin: parse a form, call integrations.services (writes) or integrations.selectors (reads),
choose a page. Reading needs view_alerts (every role); writing needs manage_integrations
(admins). Rows are looked up through the scoped managers, so another organisation's pk is a
404. A secret appears only in the response to the POST that made it (never stored, never
cached, never on another page)."""

import datetime
import inspect
import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from integrations import adapters, selectors, services
from integrations.forms import RotateForm, RuleForm, SourceForm, WindowForm
from integrations.models import AlertSource, CorrelationRule, MaintenanceWindow
from tenancy.access import org_view
from tenancy.roles import Capability, can
from tenancy.templatetags.vigil import human_duration

view_alerts = org_view(Capability.VIEW_ALERTS)
manage_integrations = org_view(Capability.MANAGE_INTEGRATIONS)


# — helpers ———————————————————————————————————————————————————————————————————————————


def _url(name: str, request, **kwargs) -> str:
    return reverse(f"integrations:{name}", kwargs={"org_slug": request.org.slug, **kwargs})


def _writer(request) -> dict:
    return {"organization": request.org, "actor": request.membership}


def _bound(request):
    return request.POST if request.method == "POST" else None


def _latency(value: datetime.timedelta | None) -> str:
    """`1 min 5 s` style, with sub-second figures shown as such rather than `0 s`."""
    if value is None:
        return "—"
    if value < datetime.timedelta(seconds=1):
        return f"{round(value.total_seconds() * 1000)} ms"
    return human_duration(value)


def _may_manage(request) -> bool:
    return can(request.membership.role, Capability.MANAGE_INTEGRATIONS)


def _add_errors(form, error: ValidationError) -> None:
    """A service's ValidationError on the form: per field where the form has that field,
    otherwise at the top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _form_page(request, *, form, save, template: str, context: dict, saved_message, next_url):
    """GET shows the form; a valid POST goes to `save`, flashes and redirects; errors
    re-render the form with the input kept."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, saved_message(saved))
            return redirect(next_url(saved))
    return render(request, template, {"form": form, **context})


def _delete(request, *, delete, done_message: str, list_url: str):
    delete()
    messages.success(request, done_message)
    return redirect(list_url)


# — sources ———————————————————————————————————————————————————————————————————————————


@view_alerts
def source_list(request, org_slug):
    now = timezone.now()
    sources = list(selectors.source_list(organization=request.org, now=now))
    for source in sources:
        due = selectors.heartbeat_due(source)
        source.heartbeat_overdue = bool(due and due < now and source.is_enabled)
    context = {"sources": sources, "may_manage": _may_manage(request)}
    return render(request, "integrations/source_list.html", context)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _examples(source: AlertSource, issued: services.IssuedSecrets, urls: dict) -> dict:
    """Copy-paste snippets for the page that shows the secrets once."""
    examples = {}
    bearer = issued.bearer or "<secret>"
    if source.kind != "heartbeat":
        body = json.dumps(
            services.sample_payload(
                source.kind, fingerprint="example-1", title="Example alert sent with curl"
            ),
            indent=2,
        )
        lines = [
            f"curl -sS -X POST {_shell_quote(urls['hook'])} \\",
            f"  -H {_shell_quote('Authorization: Bearer ' + bearer)} \\",
            "  -H 'Content-Type: application/json' \\",
            f"  --data {_shell_quote(body)}",
        ]
        if source.hmac_secret:
            hmac_secret = issued.hmac or "<hmac secret>"
            lines = [
                f"body={_shell_quote(body)}",
                "t=$(date +%s)",
                'sig=$(printf \'%s.%s\' "$t" "$body" | openssl dgst -sha256 -hmac '
                + _shell_quote(hmac_secret)
                + " | sed 's/^.* //')",
                f"curl -sS -X POST {_shell_quote(urls['hook'])} \\",
                f"  -H {_shell_quote('Authorization: Bearer ' + bearer)} \\",
                "  -H 'Content-Type: application/json' \\",
                '  -H "X-Vigil-Signature: t=$t,v1=$sig" \\',
                '  --data "$body"',
            ]
        examples["curl"] = "\n".join(lines)
    if source.kind == "alertmanager":
        examples["alertmanager"] = "\n".join(
            [
                "receivers:",
                "  - name: vigil",
                "    webhook_configs:",
                f'      - url: "{urls["hook"]}"',
                "        send_resolved: true",
                "        http_config:",
                "          authorization:",
                "            type: Bearer",
                f'            credentials: "{bearer}"',
            ]
        )
    if "heartbeat" in urls:
        examples["heartbeat"] = (
            f"curl -sS -X POST {_shell_quote(urls['heartbeat'])} \\\n"
            f"  -H {_shell_quote('Authorization: Bearer ' + bearer)}"
        )
    examples["generic"] = inspect.cleandoc(adapters.generic.__doc__ or "")
    return examples


def _hook_urls(source: AlertSource, bearer: str = "") -> dict:
    urls = {"hook": settings.SITE_URL + reverse("hook", args=[source.public_id])}
    if source.secret_in_url and bearer:
        urls["with_secret"] = settings.SITE_URL + reverse(
            "hook_secret_in_url", args=[source.public_id, bearer]
        )
    if source.kind == "heartbeat" or source.heartbeat_minutes:
        urls["heartbeat"] = settings.SITE_URL + reverse("hook_heartbeat", args=[source.public_id])
    return urls


def _secrets_page(request, *, source, issued, heading: str, rotated: bool = False):
    """The only page that ever shows a secret: the answer to the POST that made it. Not
    cached, not stored: leaving it loses the secret (rotate to get a new one)."""
    urls = _hook_urls(source, issued.bearer)
    context = {
        "source": source,
        "issued": issued,
        "heading": heading,
        "urls": urls,
        "examples": _examples(source, issued, urls),
        "rotated": rotated,
    }
    response = render(request, "integrations/source_secrets.html", context)
    response["Cache-Control"] = "no-store"
    return response


@manage_integrations
def source_create(request, org_slug):
    form = SourceForm(_bound(request), organization=request.org)
    if request.method == "POST" and form.is_valid():
        try:
            source, issued = services.source_create(**_writer(request), **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return _secrets_page(
                request, source=source, issued=issued, heading=f"Source “{source.name}” created"
            )
    return render(
        request,
        "integrations/source_form.html",
        {"form": form, "source": None, "heading": "New alert source"},
    )


def _source(pk) -> AlertSource:
    return get_object_or_404(
        AlertSource.objects.select_related("default_service", "default_team", "default_category"),
        pk=pk,
    )


@view_alerts
def source_detail(request, org_slug, pk):
    source = _source(pk)
    health = selectors.source_health(
        organization=request.org,
        source=source,
        user=request.user,
        membership=request.membership,
    )
    now = timezone.now()
    overlap = (
        source.previous_secret_expires_at
        if source.previous_secret_hash
        and source.previous_secret_expires_at
        and source.previous_secret_expires_at > now
        else None
    )
    context = {
        "source": source,
        "health": health,
        "urls": _hook_urls(source),
        "may_manage": _may_manage(request),
        "previous_valid_until": overlap,
        "latency": {"p50": _latency(health.latency_p50), "p95": _latency(health.latency_p95)},
    }
    return render(request, "integrations/source_detail.html", context)


@manage_integrations
def source_update(request, org_slug, pk):
    source = _source(pk)
    form = SourceForm(
        _bound(request), instance=AlertSource.objects.get(pk=source.pk), organization=request.org
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved, issued = services.source_update(
                **_writer(request), source=source, **form.cleaned_data
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            if issued:
                return _secrets_page(
                    request,
                    source=saved,
                    issued=issued,
                    heading=f"Source “{saved.name}” saved: new signing secret",
                )
            messages.success(request, f"Source “{saved.name}” saved.")
            return redirect(_url("source_detail", request, pk=pk))
    return render(
        request,
        "integrations/source_form.html",
        {"form": form, "source": source, "heading": f"Edit source {source.name}"},
    )


@require_POST
@manage_integrations
def source_toggle(request, org_slug, pk):
    source = _source(pk)
    enabled = request.POST.get("enabled") == "1"
    services.source_set_enabled(**_writer(request), source=source, enabled=enabled)
    if enabled:
        messages.success(request, f"Source “{source.name}” enabled: it accepts alerts again.")
    else:
        messages.success(
            request,
            f"Source “{source.name}” disabled: its senders now get 404 and nothing is stored.",
        )
    return redirect(_url("source_detail", request, pk=pk))


@manage_integrations
def source_rotate(request, org_slug, pk):
    source = _source(pk)
    form = RotateForm(_bound(request), source=source)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        issued = services.source_rotate_secret(
            **_writer(request),
            source=source,
            overlap_seconds=data["overlap"],
            rotate_hmac=data.get("rotate_hmac", False),
            rotate_outbound=data.get("rotate_outbound", False),
        )
        source.refresh_from_db()
        return _secrets_page(
            request,
            source=source,
            issued=issued,
            heading=f"New secret for “{source.name}”",
            rotated=True,
        )
    return render(request, "integrations/source_rotate.html", {"form": form, "source": source})


@require_POST
@manage_integrations
def source_test(request, org_slug, pk):
    source = _source(pk)
    try:
        result = services.source_send_test_alert(**_writer(request), source=source)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(_url("source_detail", request, pk=pk))
    context = {
        "source": source,
        "result": result,
        "body_json": json.dumps(result.body, indent=2, ensure_ascii=False),
    }
    return render(request, "integrations/source_test.html", context)


# — correlation rules —————————————————————————————————————————————————————————————————


@view_alerts
def rule_list(request, org_slug):
    rules = list(selectors.rule_list(organization=request.org))
    for rule in rules:
        rule.min_firing_text = human_duration(datetime.timedelta(seconds=rule.min_firing_seconds))
    context = {"rules": rules, "may_manage": _may_manage(request)}
    return render(request, "integrations/rule_list.html", context)


def _rule_page(request, rule: CorrelationRule | None):
    heading = f"Rule {rule.name}" if rule else "New correlation rule"
    instance = CorrelationRule.objects.get(pk=rule.pk) if rule else None
    form = RuleForm(_bound(request), instance=instance, organization=request.org)
    context = {"rule": rule, "heading": heading, "tried": None}
    if request.method == "POST" and "_try" in request.POST:
        # Nothing is saved: the unsaved rule is replayed over the last 7 days.
        if form.is_valid():
            candidate = services.build_rule(
                CorrelationRule(organization=request.org, pk=rule.pk if rule else None),
                **form.cleaned_data,
            )
            context["tried"] = selectors.try_rule(organization=request.org, rule=candidate)
        else:
            context["try_failed"] = True
        return render(request, "integrations/rule_form.html", {"form": form, **context})
    return _form_page(
        request,
        form=form,
        save=lambda data: services.rule_save(**_writer(request), rule=rule, **data),
        template="integrations/rule_form.html",
        context=context,
        saved_message=lambda saved: f"Rule “{saved.name}” saved.",
        next_url=lambda _: _url("rule_list", request),
    )


@manage_integrations
def rule_create(request, org_slug):
    return _rule_page(request, None)


@manage_integrations
def rule_update(request, org_slug, pk):
    return _rule_page(request, get_object_or_404(CorrelationRule, pk=pk))


@require_POST
@manage_integrations
def rule_delete(request, org_slug, pk):
    rule = get_object_or_404(CorrelationRule, pk=pk)
    return _delete(
        request,
        delete=lambda: services.rule_delete(**_writer(request), rule=rule),
        done_message=f"Rule “{rule.name}” deleted.",
        list_url=_url("rule_list", request),
    )


# — maintenance windows ———————————————————————————————————————————————————————————————


@view_alerts
def window_list(request, org_slug):
    context = {
        "windows": selectors.window_list(organization=request.org),
        "may_manage": _may_manage(request),
    }
    return render(request, "integrations/window_list.html", context)


def _window_page(request, window: MaintenanceWindow | None):
    heading = f"Maintenance window {window.name}" if window else "New maintenance window"
    instance = MaintenanceWindow.objects.get(pk=window.pk) if window else None
    return _form_page(
        request,
        form=WindowForm(_bound(request), instance=instance, organization=request.org),
        save=lambda data: services.window_save(**_writer(request), window=window, **data),
        template="integrations/window_form.html",
        context={"window": window, "heading": heading},
        saved_message=lambda saved: f"Maintenance window “{saved.name}” saved.",
        next_url=lambda _: _url("window_list", request),
    )


@manage_integrations
def window_create(request, org_slug):
    return _window_page(request, None)


@manage_integrations
def window_update(request, org_slug, pk):
    return _window_page(request, get_object_or_404(MaintenanceWindow, pk=pk))


@require_POST
@manage_integrations
def window_delete(request, org_slug, pk):
    window = get_object_or_404(MaintenanceWindow, pk=pk)
    return _delete(
        request,
        delete=lambda: services.window_delete(**_writer(request), window=window),
        done_message=f"Maintenance window “{window.name}” deleted.",
        list_url=_url("window_list", request),
    )
