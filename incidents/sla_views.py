"""The organisation's SLA policies and business-hours calendar."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from incidents.models import BusinessCalendar, Holiday, SlaPolicy
from incidents.sla_forms import CalendarForm, HolidayForm, SlaPolicyForm
from tenancy.access import org_view
from tenancy.roles import Capability, can


def _calendar(request) -> BusinessCalendar:
    calendar, _ = BusinessCalendar.objects.get_or_create(
        organization=request.org,
        defaults={"timezone": request.org.timezone, "working_days": [1, 2, 3, 4, 5]},
    )
    return calendar


def _page(request, *, calendar_form=None, holiday_form=None, status=200):
    calendar = _calendar(request)
    context = {
        "policies": SlaPolicy.objects.filter(organization=request.org)
        .select_related("severity", "category")
        .order_by("severity__level", "category__name"),
        "calendar": calendar,
        "holidays": calendar.holidays.all(),
        "calendar_form": calendar_form or CalendarForm(instance=calendar),
        "holiday_form": holiday_form or HolidayForm(),
        "may_edit": can(request.membership.role, Capability.MANAGE_TAXONOMY),
    }
    return render(request, "incidents/sla_policies.html", context, status=status)


@org_view(Capability.VIEW_INCIDENTS)
def sla_policy_list(request, org_slug):
    """Every member may read the promises; admins change them."""
    return _page(request)


@org_view(Capability.MANAGE_TAXONOMY)
def sla_policy_edit(request, org_slug, pk=None):
    policy = get_object_or_404(SlaPolicy, pk=pk) if pk else None
    form = SlaPolicyForm(request.POST or None, instance=policy, organization=request.org)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save()
        messages.success(
            request,
            f"{saved} saved. Running clocks keep their targets; new "
            "incidents and severity changes use it.",
        )
        return redirect("incidents:sla_policy_list", org_slug=org_slug)
    return render(request, "incidents/sla_policy_form.html", {"form": form, "policy": policy})


@require_POST
@org_view(Capability.MANAGE_TAXONOMY)
def sla_policy_delete(request, org_slug, pk):
    policy = get_object_or_404(SlaPolicy, pk=pk)
    policy.delete()
    messages.success(request, f"{policy} deleted.")
    return redirect("incidents:sla_policy_list", org_slug=org_slug)


@require_POST
@org_view(Capability.MANAGE_TAXONOMY)
def sla_calendar_save(request, org_slug):
    form = CalendarForm(request.POST, instance=_calendar(request))
    if not form.is_valid():
        return _page(request, calendar_form=form)
    form.save()
    messages.success(request, "Business hours saved.")
    return redirect("incidents:sla_policy_list", org_slug=org_slug)


@require_POST
@org_view(Capability.MANAGE_TAXONOMY)
def sla_holiday_add(request, org_slug):
    calendar = _calendar(request)
    form = HolidayForm(request.POST)
    if form.is_valid():
        if calendar.holidays.filter(date=form.cleaned_data["date"]).exists():
            form.add_error("date", "That day is a holiday already.")
        else:
            Holiday.objects.create(organization=request.org, calendar=calendar, **form.cleaned_data)
            messages.success(request, "Holiday added.")
            return redirect("incidents:sla_policy_list", org_slug=org_slug)
    return _page(request, holiday_form=form)


@require_POST
@org_view(Capability.MANAGE_TAXONOMY)
def sla_holiday_delete(request, org_slug, pk):
    holiday = get_object_or_404(Holiday, pk=pk)
    holiday.delete()
    messages.success(request, f"{holiday.name} removed.")
    return redirect("incidents:sla_policy_list", org_slug=org_slug)
