"""What is asked: the ``Task`` model, its sources (built-in, JSONL, template spec, lm-eval YAML, llm-jp-eval
datasets), their registry, and the per-example metrics with the text normalisation they share."""
