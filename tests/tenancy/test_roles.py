"""The role → capability map."""

from tenancy.roles import CAPABILITIES, Capability, Role, can


def test_admin_holds_every_capability():
    assert all(can(Role.ADMIN, c) for c in Capability)


def test_viewer_may_only_look():
    assert can(Role.VIEWER, Capability.VIEW_INCIDENTS)
    assert not can(Role.VIEWER, Capability.CREATE_INCIDENTS)
    assert not can(Role.VIEWER, Capability.MANAGE_MEMBERS)
    assert not can(Role.VIEWER, Capability.VIEW_SENSITIVE)


def test_only_admins_manage_members_and_teams():
    holders = {r for r in Role if can(r, Capability.MANAGE_MEMBERS)}
    assert holders == {Role.ADMIN}
    assert {r for r in Role if can(r, Capability.MANAGE_TEAMS)} == {Role.ADMIN}


def test_audit_trail_is_for_admins_and_compliance():
    holders = {r for r in Role if can(r, Capability.VIEW_AUDIT_TRAIL)}
    assert holders == {Role.ADMIN, Role.COMPLIANCE}


def test_unknown_or_missing_roles_hold_nothing():
    assert not can(None, Capability.VIEW_INCIDENTS)
    assert not can("owner", Capability.VIEW_INCIDENTS)


def test_every_role_is_in_the_map():
    assert set(CAPABILITIES) == set(Role)
