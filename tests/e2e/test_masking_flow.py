"""Compliance staff read an incident masked, reveal it with a reason (audited) and mask it
again, in the browser."""

from django_scopes import scopes_disabled
from playwright.sync_api import expect

from compliance.models import Unmask
from incidents import services
from taxonomy.models import CustomFieldDefinition
from tenancy.scoping import org_scope
from tests.incidents.factories import declare


def test_compliance_reveals_an_incident_with_a_reason_then_masks_it_again(
    demo, sign_in, page, screenshot
):
    acme, responder = demo.orgs["acme"], demo.users["responder@acme.test"]
    with scopes_disabled():
        CustomFieldDefinition.objects.create(
            organization=acme,
            key="customer",
            label="Customer",
            field_type="text",
            is_sensitive=True,
        )
    incident = declare(
        acme,
        responder,
        title="Refund failed for jane.doe@example.com",
        custom_fields={"customer": "Jane Doe Holdings"},
    )
    with org_scope(acme):
        services.incident_comment(
            incident=incident, actor=responder, text="She called from +49 30 1234567 at 10:05."
        )

    sign_in("compliance@acme.test")
    page.goto(f"/o/acme/incidents/{incident.key}/")
    expect(page.get_by_test_id("incident-title")).to_have_text("Refund failed for [e-mail hidden]")
    expect(page.get_by_text("She called from [phone hidden] at 10:05.")).to_be_visible()
    expect(page.get_by_text("Jane Doe Holdings")).to_have_count(0)
    page.get_by_text("Reveal masked data").click()
    screenshot("mask-incident-masked-reveal-open")

    page.get_by_label("Reason").fill("GDPR Art. 33 notification draft")
    page.get_by_role("button", name="Reveal for 15 minutes").click()
    expect(page.get_by_test_id("incident-title")).to_have_text(
        "Refund failed for jane.doe@example.com"
    )
    expect(page.get_by_test_id("revealed")).to_contain_text("Unmasked for you until")
    expect(page.get_by_text("Jane Doe Holdings")).to_be_visible()
    screenshot("mask-incident-revealed")
    with scopes_disabled():
        assert Unmask.objects.get().reason == "GDPR Art. 33 notification draft"

    page.get_by_role("button", name="Mask again").click()
    expect(page.get_by_test_id("incident-title")).to_have_text("Refund failed for [e-mail hidden]")

    # A responder has no reveal control at all.
    page.context.clear_cookies()
    sign_in("responder@acme.test")
    page.goto(f"/o/acme/incidents/{incident.key}/")
    expect(page.get_by_test_id("incident-title")).to_have_text("Refund failed for [e-mail hidden]")
    expect(page.get_by_test_id("reveal-control")).to_have_count(0)
    screenshot("mask-incident-responder")

    # Editing, the title holding an e-mail address is shown masked and locked.
    page.get_by_role("link", name="Edit").click()
    title = page.get_by_label("Title")
    expect(title).to_have_value("Refund failed for [e-mail hidden]")
    expect(title).to_be_disabled()
    expect(page.get_by_text("Contains personal data, shown masked").first).to_be_visible()
    screenshot("mask-incident-edit-locked")
