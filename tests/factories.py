"""factory-boy factories shared by every app's tests."""

import factory
from django_scopes import scopes_disabled

from tenancy.models import Membership, Organization, Team, User
from tenancy.roles import Role
from tests import logcanary

PASSWORD = logcanary.PASSWORD  # a canary: never in a log (tests/logcanary.py)


class CrossTenantFactory(factory.django.DjangoModelFactory):
    """Factories write like the fixtures they stand in for: across organisations, also past
    row-level security (as scopes_disabled() code does), whatever scope the test is in."""

    class Meta:
        abstract = True

    @classmethod
    def _generate(cls, strategy, params):
        with scopes_disabled():
            return super()._generate(strategy, params)


class OrgOwnedFactory(CrossTenantFactory):
    """Factories write and look up across organisations, like the fixtures they stand in for."""

    class Meta:
        abstract = True

    @classmethod
    def _get_manager(cls, model_class):
        manager = super()._get_manager(model_class)
        return (
            manager.with_scopes_disabled() if hasattr(manager, "with_scopes_disabled") else manager
        )


class OrganizationFactory(CrossTenantFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org{n}")
    key_prefix = factory.Sequence(lambda n: f"ORG{n}")
    timezone = "UTC"


class UserFactory(CrossTenantFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    full_name = factory.Sequence(lambda n: f"Person {n}")
    password = factory.django.Password(PASSWORD)


class MembershipFactory(OrgOwnedFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.RESPONDER


class TeamFactory(OrgOwnedFactory):
    class Meta:
        model = Team
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Team {n}")

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.add(*extracted)
