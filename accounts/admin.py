from django.contrib import admin

from accounts.models import SecurityEvent, UserSession


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    """The security log, read-only: failed sign-ins, lockouts, two-factor changes."""

    list_display = ["at", "kind", "username", "user", "ip_address"]
    list_filter = ["kind"]
    search_fields = ["username", "user__email", "ip_address"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in SecurityEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at", "ip_address", "user_agent"]
    search_fields = ["user__email", "ip_address"]
    readonly_fields = ["session", "user", "created_at", "ip_address", "user_agent"]

    def has_add_permission(self, request):
        return False
