#!/usr/bin/env bash
# Back up Vigil's PostgreSQL database: pg_dump in the custom format (-Fc: compressed, restorable
# table by table, in parallel). PostgreSQL is Vigil's one source of truth; Redis holds only
# queued work and caches and is not backed up (docs/operations.md, "Backups and restore").
#
# Usage: scripts/backup.sh [-d DATABASE_URL] OUTPUT.dump
#   -d URL   the database to dump (default: $DATABASE_URL, else postgres://postgres@127.0.0.1:5432/vigil)
#   OUTPUT   file to write; refused if it exists. Written to OUTPUT.partial first, renamed at the end,
#            so a file with the final name is always a complete dump.
# Exit status: 0 on success, non-zero (with pg_dump's message) otherwise.
set -euo pipefail

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/vigil}"
while getopts ":d:h" opt; do
    case "$opt" in
        d) url="$OPTARG" ;;
        h) usage ;;
        *) echo "backup.sh: unknown option -$OPTARG" >&2; usage ;;
    esac
done
shift $((OPTIND - 1))
[[ $# -eq 1 ]] || usage
out="$1"
if [[ -e "$out" ]]; then
    echo "backup.sh: $out exists; choose a new file name" >&2
    exit 1
fi

started=$(date +%s%N)
# --no-owner/--no-privileges are applied at restore time; the dump keeps them for a like-for-like
# restore. Row-level security policies are part of the schema and are dumped with it.
pg_dump --format=custom --compress=6 --file="$out.partial" --dbname="$url"
mv "$out.partial" "$out"
ms=$((($(date +%s%N) - started) / 1000000))
size=$(stat -c %s "$out")
printf 'backup.sh: wrote %s (%s bytes) in %d.%03d s\n' "$out" "$size" $((ms / 1000)) $((ms % 1000))
