"""python manage.py demo_totp_code — the current two-factor code of the demo accounts."""

from binascii import unhexlify

from django.core.management.base import BaseCommand
from django_otp.oath import TOTP

from accounts.demo import DEMO_TOTP_KEY, DEMO_TOTP_SECRET


class Command(BaseCommand):
    help = (
        "Print the current 6-digit code for the demo accounts' published two-factor secret "
        f"({DEMO_TOTP_SECRET}). Knows no other secret, so it is harmless in production."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"{TOTP(unhexlify(DEMO_TOTP_KEY)).token():06d}")
