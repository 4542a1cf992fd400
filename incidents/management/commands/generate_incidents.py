"""python manage.py generate_incidents --org <slug> --count N [--years 3] [--seed S] [--force]

Bulk-creates N realistic incidents for an existing organisation, spread over the last years,
for load tests and the reporting benchmark (bench/b_dashboard.py). Set-based SQL only
(INSERT … SELECT generate_series): a million incidents take minutes.

What is generated, per incident: the org's severities (Sev-1 5 %, Sev-2 15 %, Sev-3 40 %,
Sev-4 40 %), categories (10 % none), services (skewed towards the first ones) with the
service's owning team, members as reporter and commander; detected ≤ reported ≤ acknowledged ≤
mitigated ≤ resolved ≤ closed, nothing in the future (recent incidents are still open); 4 %
dismissed, 3 % duplicates of the previous incident, 2 % test and 1 % game-day incidents; 3 % of
the resolved ones reopened once, with their two impact periods; 30 % alert-created; one SLA
timer per phase from the severity's default policy, met or breached; 20 % with an affected
service and 10 % with an involved team besides the owning one.

Not generated: timeline entries, status updates, post-mortems, audit entries (the rows are
written in SQL, past the audit log — this is test data). Numbers continue the organisation's
key counter, which is bumped in the same transaction, so later declarations do not collide.
"""

import datetime
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from incidents.models import KeyCounter, SlaPolicy
from taxonomy.models import Category, Service, SeverityLevel
from tenancy.models import Membership, Organization, Team

# Cumulative lower bounds of Sev-2, Sev-3, Sev-4 (Sev-1 below the first).
SEVERITY_BOUNDS = [0.05, 0.20, 0.60]

DRAWS = """
CREATE TEMP TABLE gen_draw ON COMMIT DROP AS
SELECT g,
       %(t0)s::timestamptz + %(span)s::interval * ((g - 1 + random()) / %(n)s) AS detected,
       width_bucket(random(), %(bounds)s::float8[]) + 1 AS sev_idx,
       random() AS u_rep, random() AS u_ack, random() AS u_mit, random() AS u_res,
       random() AS u_close, random() AS u_resolved_only, random() AS u_status,
       random() AS u_kind, random() AS u_src, random() AS u_reopen, random() AS u_reopen_at,
       random() AS u_mit2, random() AS u_res2, random() AS u_cat, random() AS u_svc,
       random() AS u_aff, random() AS u_inv, random() AS u_cmd, random() AS u_who,
       random() AS u_restricted, random() AS u_title
  FROM generate_series(1, %(n)s) g
"""

TIMES = """
CREATE TEMP TABLE gen_time ON COMMIT DROP AS
SELECT d.*,
       rep + make_interval(secs => 60 * (-ln(1 - u_ack)) * (2 + 3 * lvl)) AS ack,
       rep + make_interval(secs => 60 * (-ln(1 - u_ack)) * (2 + 3 * lvl)
                            + 60 * (-ln(1 - u_mit)) * 40 * lvl) AS m1
  FROM (SELECT d.*, (%(levels)s::int[])[sev_idx] AS lvl,
               detected + make_interval(secs => 1800 * u_rep * u_rep) AS rep
          FROM gen_draw d) d
"""

SHAPE = """
CREATE TEMP TABLE gen_shape ON COMMIT DROP AS
SELECT t.*,
       CASE WHEN u_kind < 0.02 THEN 'test' WHEN u_kind < 0.03 THEN 'game_day' ELSE 'real' END
           AS kind,
       CASE WHEN u_status < 0.04 THEN 'dismissed' WHEN u_status < 0.07 THEN 'duplicate' END
           AS ended_early,
       (u_status >= 0.07 AND u_reopen < 0.03) AS reopened,
       r1 + interval '1 hour' * (1 + 47 * u_reopen_at) AS reopen_at
  FROM (SELECT t.*, m1 + make_interval(secs => 60 * (-ln(1 - u_res)) * 30 * lvl) AS r1
          FROM gen_time t) t
"""

FINAL = """
CREATE TEMP TABLE gen ON COMMIT DROP AS
SELECT s.*,
       CASE WHEN ended_early IS NOT NULL THEN ended_early
            WHEN closed0 <= %(now)s AND u_resolved_only >= 0.15 THEN 'closed'
            WHEN res0 <= %(now)s THEN 'resolved'
            WHEN mit0 <= %(now)s THEN 'mitigated'
            WHEN ack <= %(now)s THEN 'investigating'
            ELSE 'reported' END AS status
  FROM (SELECT s.*,
               CASE WHEN reopened
                    THEN reopen_at + make_interval(secs => 60 * (-ln(1 - u_mit2)) * 30 * lvl)
                    ELSE m1 END AS mit0,
               CASE WHEN reopened
                    THEN reopen_at + make_interval(secs => 60 * (-ln(1 - u_mit2)) * 30 * lvl
                                                          + 60 * (-ln(1 - u_res2)) * 20 * lvl)
                    ELSE r1 END AS res0,
               CASE WHEN reopened
                    THEN reopen_at + make_interval(secs => 60 * (-ln(1 - u_mit2)) * 30 * lvl
                                                          + 60 * (-ln(1 - u_res2)) * 20 * lvl)
                    ELSE r1 END + interval '1 hour' * (24 + 144 * u_close) AS closed0
          FROM gen_shape s) s
"""

INCIDENTS = """
INSERT INTO incidents_incident (
    organization_id, number, key, title, description, severity_id, category_id,
    primary_service_id, owning_team_id, commander_id, reporter_id, source, kind, is_restricted,
    status, version, detected_at, reported_at, acknowledged_at, mitigated_at, resolved_at,
    closed_at, impact_summary, resolution_summary, root_cause_category, custom_fields,
    severity_assessment, reopen_count, reclassified, created_at, updated_at)
SELECT %(org)s, %(first)s + g - 1, %(prefix)s || '-' || (%(first)s + g - 1),
       (%(titles)s::text[])[1 + floor(u_title * cardinality(%(titles)s::text[]))::int]
           || coalesce(' — ' || (%(svc_names)s::text[])[svc], ''),
       '', (%(sev_ids)s::bigint[])[sev_idx],
       CASE WHEN u_cat < 0.1 OR cardinality(%(cat_ids)s::bigint[]) = 0 THEN NULL
            ELSE (%(cat_ids)s::bigint[])[1 + floor((u_cat - 0.1) / 0.9
                                          * cardinality(%(cat_ids)s::bigint[]))::int] END,
       (%(svc_ids)s::bigint[])[svc],
       coalesce((%(svc_teams)s::bigint[])[svc],
                (%(team_ids)s::bigint[])[
                    1 + floor(u_inv * cardinality(%(team_ids)s::bigint[]))::int]),
       CASE WHEN status = 'reported' THEN NULL
            ELSE (%(user_ids)s::bigint[])[
                    1 + floor(u_cmd * cardinality(%(user_ids)s::bigint[]))::int]
       END,
       CASE WHEN u_src < 0.3 THEN NULL
            ELSE (%(user_ids)s::bigint[])[
                    1 + floor(u_who * cardinality(%(user_ids)s::bigint[]))::int]
       END,
       CASE WHEN u_src < 0.3 THEN 'alert' WHEN u_src < 0.9 THEN 'manual'
            WHEN u_src < 0.97 THEN 'api' ELSE 'cli' END,
       kind, u_restricted < 0.01, status, 1, detected, rep,
       CASE WHEN status = 'reported' OR ack > %(now)s THEN NULL ELSE ack END,
       CASE WHEN status IN ('mitigated', 'resolved', 'closed') THEN mit0 END,
       CASE WHEN status IN ('resolved', 'closed') THEN res0 END,
       CASE WHEN status = 'closed' THEN closed0 END,
       '', '', '', '{}'::jsonb, '{}'::jsonb,
       CASE WHEN reopened AND status IN ('resolved', 'closed') THEN 1 ELSE 0 END,
       false, rep, greatest(rep, coalesce(CASE WHEN status = 'closed' THEN closed0 END,
                                           CASE WHEN status = 'resolved' THEN res0 END, rep))
  FROM (SELECT gen.*,
               CASE WHEN cardinality(%(svc_ids)s::bigint[]) = 0 THEN NULL
                    ELSE 1 + floor(u_svc * u_svc * cardinality(%(svc_ids)s::bigint[]))::int
               END AS svc
          FROM gen) gen
 ORDER BY g
"""

# Period 1 from detection to the (first) mitigation; a reopened incident's second period from
# the reopen to the final mitigation. Dismissed and duplicate incidents end at their
# acknowledgement (or report); open ones are still open.
IMPACT = """
INSERT INTO incidents_impactperiod (organization_id, incident_id, number, started_at, ended_at,
                                    reopen_reason)
SELECT i.organization_id, i.id, 1, i.detected_at,
       CASE WHEN i.reopen_count > 0 THEN gen.m1
            WHEN i.status IN ('dismissed', 'duplicate')
                THEN coalesce(i.acknowledged_at, i.reported_at)
            ELSE coalesce(i.mitigated_at, i.resolved_at) END,
       ''
  FROM incidents_incident i JOIN gen ON i.number = %(first)s + gen.g - 1
 WHERE i.organization_id = %(org)s AND i.number >= %(first)s
UNION ALL
SELECT i.organization_id, i.id, 2, gen.reopen_at, i.mitigated_at, 'Recurred after the fix'
  FROM incidents_incident i JOIN gen ON i.number = %(first)s + gen.g - 1
 WHERE i.organization_id = %(org)s AND i.number >= %(first)s AND i.reopen_count > 0
"""

# One timer per phase, started at the report: met when the phase's time came before the due
# time, breached (and met late) otherwise; still running or breached when the incident is open;
# stopped at the dismissal for dismissed and duplicate incidents.
TIMERS = """
INSERT INTO incidents_slatimer (
    organization_id, incident_id, phase, period_number, policy_id, clock, target_minutes,
    started_at, due_at, warn_at, warned_at, met_at, breached_at, stopped_at, paused_at,
    paused_for, pause_reason)
SELECT org, id, phase, 1, policy, 'wall', target, started, due,
       started + interval '1 minute' * target * 0.8,
       CASE WHEN stopped IS NULL AND coalesce(done, %(now)s) > started
                                                       + interval '1 minute' * target * 0.8
            THEN started + interval '1 minute' * target * 0.8 END,
       CASE WHEN stopped IS NULL THEN done END,
       CASE WHEN stopped IS NULL AND coalesce(done, %(now)s) > due THEN due END,
       stopped, NULL, interval '0', ''
  FROM (SELECT i.organization_id AS org, i.id, p.phase, p.policy, p.target,
               i.reported_at AS started,
               i.reported_at + make_interval(mins => p.target) AS due,
               CASE p.phase WHEN 'acknowledge' THEN i.acknowledged_at
                            WHEN 'mitigate' THEN i.mitigated_at ELSE i.resolved_at END AS done,
               CASE WHEN i.status IN ('dismissed', 'duplicate')
                    THEN coalesce(i.acknowledged_at, i.reported_at) END AS stopped
          FROM incidents_incident i
          JOIN (SELECT id, ordinality AS idx
                  FROM unnest(%(sev_ids)s::bigint[]) WITH ORDINALITY AS u(id, ordinality)) s
            ON s.id = i.severity_id
          JOIN LATERAL (
                SELECT x.phase, x.policy, x.target
                  FROM unnest(ARRAY['acknowledge', 'mitigate', 'resolve'],
                              ARRAY[(%(pol_ids)s::bigint[])[s.idx], (%(pol_ids)s::bigint[])[s.idx],
                                    (%(pol_ids)s::bigint[])[s.idx]],
                              ARRAY[(%(pol_ack)s::int[])[s.idx], (%(pol_mit)s::int[])[s.idx],
                                    (%(pol_res)s::int[])[s.idx]]) AS x(phase, policy, target)
                 WHERE x.target IS NOT NULL) p ON true
         WHERE i.organization_id = %(org)s AND i.number >= %(first)s) t
"""

AFFECTED = """
INSERT INTO incidents_incident_affected_services (incident_id, service_id)
SELECT i.id, (%(svc_ids)s::bigint[])[1 + (array_position(%(svc_ids)s::bigint[],
                                             i.primary_service_id) - 1
                                         + 1 + floor(gen.u_aff / 0.2 * (cardinality(
                                             %(svc_ids)s::bigint[]) - 1))::int)
                                        %% cardinality(%(svc_ids)s::bigint[])]
  FROM incidents_incident i JOIN gen ON i.number = %(first)s + gen.g - 1
 WHERE i.organization_id = %(org)s AND i.number >= %(first)s AND gen.u_aff < 0.2
   AND i.primary_service_id IS NOT NULL AND cardinality(%(svc_ids)s::bigint[]) > 1
"""

INVOLVED = """
INSERT INTO incidents_incident_involved_teams (incident_id, team_id)
SELECT i.id, (%(team_ids)s::bigint[])[1 + floor(gen.u_inv / 0.1
                                                * cardinality(%(team_ids)s::bigint[]))::int]
  FROM incidents_incident i JOIN gen ON i.number = %(first)s + gen.g - 1
 WHERE i.organization_id = %(org)s AND i.number >= %(first)s AND gen.u_inv < 0.1
   AND cardinality(%(team_ids)s::bigint[]) > 0
"""

DUPLICATES = """
UPDATE incidents_incident i SET duplicate_of_id = prev.id
  FROM incidents_incident prev
 WHERE i.organization_id = %(org)s AND i.number >= %(first)s AND i.status = 'duplicate'
   AND prev.organization_id = %(org)s AND prev.number = i.number - 1
"""

TITLES = [
    "Elevated error rate",
    "Latency above objective",
    "Checkout failures",
    "Database connection pool exhausted",
    "Certificate expiry warning",
    "Disk almost full",
    "Queue backlog growing",
    "Login failures",
    "Partial outage",
    "Degraded search results",
]


class Command(BaseCommand):
    help = "Bulk-create N realistic incidents for an organisation (load tests, benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organisation's slug.")
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--years", type=float, default=3)
        parser.add_argument("--seed", type=int, default=None, help="Repeatable random draws.")
        parser.add_argument(
            "--force", action="store_true", help="Run even though DEBUG is off (never in prod)."
        )

    def handle(self, *args, org: str, count: int, years: float, seed, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "generate_incidents writes made-up incidents; DEBUG is off, so it refuses. "
                "Pass --force if this really is a throw-away installation."
            )
        if count < 1:
            raise CommandError("--count must be at least 1.")
        if years <= 0:
            raise CommandError("--years must be positive.")
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organisation with the slug {org!r}.")
        started = time.perf_counter()
        with scopes_disabled(), transaction.atomic():
            params = self._params(organization, count, years)
            with connection.cursor() as cursor:
                if seed is not None:
                    cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
                for sql in (DRAWS, TIMES, SHAPE, FINAL, INCIDENTS, IMPACT, TIMERS):
                    cursor.execute(sql, params)
                for sql in (AFFECTED, INVOLVED, DUPLICATES):
                    cursor.execute(sql, params)
                # ON COMMIT DROP is not enough inside an outer transaction (tests).
                cursor.execute("DROP TABLE gen_draw, gen_time, gen_shape, gen")
            KeyCounter.objects.filter(organization=organization).update(
                last_number=params["first"] + count - 1
            )
        seconds = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"{count:,} incidents created in {organization.slug} "
                f"({organization.key_prefix}-{params['first']} … "
                f"{organization.key_prefix}-{params['first'] + count - 1}) in {seconds:.1f} s."
            )
        )

    def _params(self, organization, count: int, years: float) -> dict:
        counter, _ = KeyCounter.objects.select_for_update().get_or_create(organization=organization)
        # Lock the counter row: a declaration meanwhile waits instead of taking our numbers.
        counter = KeyCounter.objects.select_for_update().get(pk=counter.pk)
        severities = list(SeverityLevel.objects.filter(organization=organization).order_by("level"))
        if not severities:
            raise CommandError(f"{organization.slug} has no severity levels; seed its taxonomy.")
        bounds = SEVERITY_BOUNDS[: len(severities) - 1]
        policies = {
            p.severity_id: p
            for p in SlaPolicy.objects.filter(organization=organization, category=None)
        }
        services = list(Service.objects.filter(organization=organization).order_by("pk"))
        teams = list(Team.objects.filter(organization=organization).order_by("pk"))
        users = list(
            Membership.objects.filter(organization=organization)
            .order_by("user_id")
            .values_list("user_id", flat=True)
        )
        now = timezone.now()
        span = datetime.timedelta(days=365.25 * years) - datetime.timedelta(hours=1)
        return {
            "org": organization.pk,
            "prefix": organization.key_prefix,
            "first": counter.last_number + 1,
            "n": count,
            "now": now,
            "t0": now - datetime.timedelta(hours=1) - span,
            "span": span,
            "bounds": bounds,
            "levels": [s.level for s in severities],
            "sev_ids": [s.pk for s in severities],
            "cat_ids": list(
                Category.objects.filter(organization=organization)
                .order_by("pk")
                .values_list("pk", flat=True)
            ),
            "svc_ids": [s.pk for s in services],
            "svc_names": [s.name for s in services],
            "svc_teams": [s.owning_team_id for s in services],
            "team_ids": [t.pk for t in teams],
            "user_ids": users,
            "titles": TITLES,
            "pol_ids": [policies[s.pk].pk if s.pk in policies else None for s in severities],
            "pol_ack": [
                policies[s.pk].acknowledge_minutes if s.pk in policies else None for s in severities
            ],
            "pol_mit": [
                policies[s.pk].mitigate_minutes if s.pk in policies else None for s in severities
            ],
            "pol_res": [
                policies[s.pk].resolve_minutes if s.pk in policies else None for s in severities
            ],
        }
