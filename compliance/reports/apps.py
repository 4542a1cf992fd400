from django.apps import AppConfig


class ComplianceReportsConfig(AppConfig):
    name = "compliance.reports"
    label = "compliance_reports"
    verbose_name = "Compliance reports"

    def ready(self) -> None:
        from compliance.models import RecordType
        from compliance.records import Retained, register
        from compliance.reports import models, services
        from incidents import notify
        from tenancy.audit import audit_register

        # Each generation is audited (who, when, which version and hashes); the PDF bytes are
        # not repeated in the audit trail.
        audit_register(models.Report, exclude_fields=["pdf"])
        audit_register(models.DistributionList)
        audit_register(models.DistributionRecipient)
        audit_register(models.ReportDistribution)

        notify.register_attachment_loader(services.ATTACHMENT_KIND, services.load_attachment)
        register(
            Retained(
                key=RecordType.REPORTS,
                label="Regulatory reports",
                rows=services.retained_rows,
                date_field="generated_at",
                incident_path="incident_id",
                service_path="incident__primary_service_id",
                # A hold reaches a report as it reaches its incident: affected services too,
                # and a date range through the incident's period (not the generation date).
                extra_service_paths=("incident__affected_services",),
                period=("incident__detected_at", "incident__closed_at"),
                # Only reports of closed incidents go: an open incident's notices are live.
                eligible=lambda candidates, org_id: candidates.filter(incident__status="closed"),
                purge=services.purge_reports,
                tables=(
                    models.Report._meta.db_table,
                    models.ReportDistribution._meta.db_table,
                ),
            )
        )
