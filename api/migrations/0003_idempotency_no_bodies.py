"""Idempotency records keep no response bodies (review finding 4): a finished success keeps the
identity of its object, an error its error body. Success rows written before this migration
hold bodies, perhaps unmasked, and name no object: they are deleted (a repeat of such a request
within its 24 hours runs again)."""

from django.db import migrations, models

FORWARD = """
DELETE FROM api_idempotencyrecord WHERE status_code IS NOT NULL AND status_code < 400;
UPDATE api_idempotencyrecord SET error_body = response_body WHERE status_code >= 400;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_apicore_idempotency"),
    ]

    operations = [
        migrations.AddField(
            model_name="idempotencyrecord",
            name="error_body",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="object_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.RunSQL(FORWARD, reverse_sql=migrations.RunSQL.noop),
        migrations.RemoveField(
            model_name="idempotencyrecord",
            name="response_body",
        ),
    ]
