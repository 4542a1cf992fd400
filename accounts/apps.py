from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Signing in and sessions"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (login, logout, lockout and deactivation hooks)
