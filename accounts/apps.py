from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Signing in and sessions"

    def ready(self) -> None:
        from accounts import demo, signals  # noqa: F401  (sign-in, lockout, deactivation hooks)
        from tenancy.demo import register_seeder

        register_seeder("two-factor", 5, demo.seed_two_factor)
