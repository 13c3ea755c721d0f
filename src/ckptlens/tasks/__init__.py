"""What is asked: the ``Task`` model, its sources (built-in, JSONL, template spec, lm-eval YAML) and their registry."""
