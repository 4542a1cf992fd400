from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    """Cursor pagination (stable under inserts, fast on large lists): `?cursor=` from the
    `next`/`previous` links, `?page_size=` up to 200."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-pk"
