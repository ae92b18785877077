"""Scoring: metrics (the paper's definitions) and offline re-scoring of recorded runs."""
