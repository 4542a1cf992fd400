from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    name = "postmortems"
    verbose_name = "Post-mortems"

    def ready(self) -> None:
        from postmortems import models
        from tenancy.audit import audit_register

        audit_register(models.PostMortemPolicy)
        audit_register(models.PostMortemDecision)
        audit_register(models.Tag)
        audit_register(
            models.PostMortem,
            exclude_fields=["search_vector", "updated_at"],
            m2m_fields={"approvers", "tags"},
        )
        audit_register(models.PostMortemApproval)
        audit_register(models.WhyStep)
        audit_register(models.FishboneCause)
        audit_register(models.ActionItem, exclude_fields=["updated_at"])

        from incidents import registry, signals
        from postmortems import demo, policy
        from tenancy.demo import register_seeder

        # The decision shown on the incident page: taken after commit on declaration and on
        # changes that can change it; on resolve inside the transaction (policy.py says why).
        signals.incident_created.connect(
            policy.on_incident_created, sender=None, dispatch_uid="postmortems-decide-created"
        )
        signals.incident_changed.connect(
            policy.on_incident_changed, sender=None, dispatch_uid="postmortems-decide-changed"
        )
        if policy.on_transition not in registry.transition_hooks:
            registry.transition_hooks.append(policy.on_transition)
        if policy.closing_requirement not in registry.requirement_checks:
            registry.requirement_checks.append(policy.closing_requirement)
        register_seeder("postmortems", 40, demo.seed_postmortems)
