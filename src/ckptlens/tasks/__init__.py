"""What is asked: the ``Task`` model, its sources (built-in registry, JSONL, template spec, lm-eval YAML and
lm-eval's own index, llm-jp-eval datasets) and the per-example metrics with their text normalisation.
May import checkpoints, files, errors.
"""
