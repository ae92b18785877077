"""Scoring: metrics (the paper's rules, metrics.py; the release's SPL and OS, release.py), failure tags (names and
thresholds in tagset.py; rules in failures.py, behaviour_tags.py; the primary cause in primary.py), aggregation into
rows with intervals (aggregate.py) and offline re-scoring of recorded runs (rescore.py, cli.py)."""
