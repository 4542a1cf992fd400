"""The knowledge base's full-text search over published post-mortems (built in issue 7's KB
part). `refresh_search_vector` is what the document services call after publishing."""


def refresh_search_vector(postmortem) -> None:
    """Recompute `postmortem.search_vector` (weighted title, summary, causes, the rest)."""
