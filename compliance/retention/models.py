"""Models of compliance.retention."""
