"""CSV export of the reporting pages' tables: every table on a reporting page offers the same
rows as CSV (`?format=csv&table=<name>`), through `csv_response`."""

import csv

from django.http import HttpResponse

from compliance.exports import csv_safe


def wants_csv(request) -> str | None:
    """The table asked for as CSV (`?format=csv&table=<name>`), or None for the page."""
    if request.GET.get("format") == "csv":
        return request.GET.get("table", "")
    return None


def csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    """`rows` (iterables of cells) as a CSV attachment, each cell guarded against spreadsheet
    formula injection."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])
    return response
