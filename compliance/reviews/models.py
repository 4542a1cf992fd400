"""Models of compliance.reviews."""
