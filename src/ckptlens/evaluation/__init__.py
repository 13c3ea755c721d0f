"""Tasks, prompt building and the scoring engine."""
