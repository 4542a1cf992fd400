"""The Django admin site: a cross-tenant tool for staff, so every view runs unscoped."""

from functools import wraps

from django.contrib import admin
from django_scopes import scopes_disabled


class UnscopedAdminSite(admin.AdminSite):
    site_header = "Vigil administration (all organisations)"

    def admin_view(self, view, cacheable=False):
        @wraps(view)
        def inner(request, *args, **kwargs):
            with scopes_disabled():  # cross-tenant by design: staff only
                response = view(request, *args, **kwargs)
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
                return response

        return super().admin_view(inner, cacheable)
