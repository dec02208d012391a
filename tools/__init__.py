"""Project maintenance scripts (not installed): ``python -m tools.lock``."""
