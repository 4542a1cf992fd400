#!/usr/bin/env bash
# Restore a Vigil backup (scripts/backup.sh, pg_dump -Fc) into a NEW database. Never restores
# over an existing database: create a new one, check it, then point DATABASE_URL at it.
#
# Usage: scripts/restore.sh [-s SERVER_URL] [-j JOBS] DUMP NEW_DATABASE_NAME
#   -s URL   the PostgreSQL server, any database on it (default: $DATABASE_URL, else
#            postgres://postgres@127.0.0.1:5432/postgres); the role must be allowed to CREATE DATABASE
#   -j N     parallel restore jobs (default 2)
#   DUMP     the file written by scripts/backup.sh
#   NEW_DATABASE_NAME  created by this script; refused if it exists
# Then: DATABASE_URL=<server>/NEW_DATABASE_NAME python manage.py migrate   (applies nothing when the
# code matches the dump) and python manage.py verify_audit --org <slug> for each organisation.
set -euo pipefail

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
jobs=2
while getopts ":s:j:h" opt; do
    case "$opt" in
        s) url="$OPTARG" ;;
        j) jobs="$OPTARG" ;;
        h) usage ;;
        *) echo "restore.sh: unknown option -$OPTARG" >&2; usage ;;
    esac
done
shift $((OPTIND - 1))
[[ $# -eq 2 ]] || usage
dump="$1"
name="$2"
[[ -f "$dump" ]] || { echo "restore.sh: no such file: $dump" >&2; exit 1; }
[[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "restore.sh: '$name' is not a plain database name" >&2; exit 1; }
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "restore.sh: -j needs a positive number" >&2; exit 1; }
pg_restore --list "$dump" >/dev/null || { echo "restore.sh: $dump is not a pg_dump -Fc file" >&2; exit 1; }

# The server part of the URL with the database replaced: postgres://u@h:p/db?x -> .../NAME?x
base="${url%%\?*}"
query=""
[[ "$url" == *\?* ]] && query="?${url#*\?}"
server="${base%/*}"
admin_url="$server/postgres$query"
target_url="$server/$name$query"

exists=$(psql "$admin_url" -XAtc "SELECT 1 FROM pg_database WHERE datname = '$name'")
if [[ "$exists" == "1" ]]; then
    echo "restore.sh: database $name exists; restore into a new one" >&2
    exit 1
fi

started=$(date +%s%N)
psql "$admin_url" -Xqc "CREATE DATABASE \"$name\""
# --exit-on-error: a half-restored database is worse than none; drop it and say so.
if ! pg_restore --dbname="$target_url" --jobs="$jobs" --exit-on-error --no-owner "$dump"; then
    echo "restore.sh: pg_restore failed; dropping the incomplete database $name" >&2
    psql "$admin_url" -Xqc "DROP DATABASE IF EXISTS \"$name\"" || true
    exit 1
fi
psql "$target_url" -Xqc "ANALYZE"
ms=$((($(date +%s%N) - started) / 1000000))
printf 'restore.sh: restored %s into %s in %d.%03d s\n' "$dump" "$name" $((ms / 1000)) $((ms % 1000))
