"""Models of compliance.reports."""
