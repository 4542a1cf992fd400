"""Organisations, people, memberships, teams, invitations and the org-aware audit entry."""

import zoneinfo

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone as dj_timezone
from django_scopes import ScopedManager

from tenancy.roles import Role, capabilities_of


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (e.g. Europe/Berlin).")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an e-mail address. Belongs to organisations via memberships.

    Users are deactivated, never deleted: the audit trail keeps pointing at them."""

    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="May sign in to the cross-tenant Django admin."
    )
    date_joined = models.DateTimeField(default=dj_timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)


prefix_validator = RegexValidator(
    r"^[A-Z][A-Z0-9]{1,9}$", "2–10 capital letters or digits, starting with a letter (e.g. ACME)."
)
slug_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,48}[a-z0-9]$",
    "2–50 lower-case letters, digits and dashes, not starting or ending with a dash.",
)


class Organization(models.Model):
    """A tenant: one company or agency using Vigil. Everything it owns points here."""

    name = models.CharField(max_length=120)
    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    key_prefix = models.CharField(
        "incident key prefix", max_length=10, unique=True, validators=[prefix_validator]
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class OrgOwned(models.Model):
    """A row that belongs to exactly one organisation. Its default manager raises when no
    organisation is in scope, so a forgotten filter fails loudly instead of leaking."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, editable=False, related_name="+"
    )

    objects = ScopedManager(organization="organization")

    class Meta:
        abstract = True

    def check_same_organization(self, **related) -> None:
        """Raise if a related row belongs to another organisation (foreign keys reached through
        the base manager are not scoped, and full_clean() does not notice)."""
        errors = {}
        for field, obj in related.items():
            if obj is not None and obj.organization_id != self.organization_id:
                errors[field] = "Choose one of this organisation's own."
        if errors:
            raise ValidationError(errors)


class Membership(OrgOwned):
    """A user's role in one organisation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["user", "organization"], name="membership_user_org")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"

    @property
    def capabilities(self):
        return capabilities_of(self.role)

    def get_additional_data(self) -> dict:
        return {"user": self.user.email}


class Team(OrgOwned):
    """A group of an organisation's members who own services and answer pages together."""

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(User, blank=True, related_name="teams")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("organization", Lower("name"), name="team_name_unique_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class Invitation(OrgOwned):
    """An offer to join an organisation, sent by e-mail as a one-time link. Only a hash of the
    token is stored, so a database leak does not hand out memberships."""

    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.RESPONDER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} as {self.get_role_display()}"

    @property
    def is_open(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > dj_timezone.now()
        )


class AuditEntryManager(LogEntryManager):
    """Fills in the organisation of the row being logged, so the audit page reads one index."""

    def _organization_id(self, instance):
        if isinstance(instance, Organization):
            return instance.pk
        return getattr(instance, "organization_id", None)

    def log_create(self, instance, force_log: bool = False, **kwargs):
        kwargs.setdefault("organization_id", self._organization_id(instance))
        return super().log_create(instance, force_log=force_log, **kwargs)

    def log_m2m_changes(self, changed_queryset, instance, operation, field_name, **kwargs):
        kwargs.setdefault("organization_id", self._organization_id(instance))
        return super().log_m2m_changes(changed_queryset, instance, operation, field_name, **kwargs)


class AuditEntry(AbstractLogEntry):
    """The forensic record of every change to a domain row (django-auditlog's log entry with
    the organisation and where the change came from). Append-only: a PostgreSQL trigger
    rejects UPDATE and DELETE unless the retention routine opens its gate (see audit.py)."""

    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    origin = models.CharField(
        max_length=120, blank=True, help_text="web, task:<name> or command:<name>"
    )
    # The per-organisation hash chain (compliance/audit_chain.py): the previous entry's hash
    # and this entry's own, written in the same transaction as the entry.
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    entry_hash = models.CharField(max_length=64, blank=True, editable=False)

    objects = ScopedManager(_manager_class=AuditEntryManager, organization="organization")

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["organization", "-timestamp"], name="auditentry_org_ts"),
            models.Index(
                fields=["organization", "actor", "-timestamp"], name="auditentry_org_actor"
            ),
        ]
