"""The one notification service (stub; see the docstrings for the contract)."""
