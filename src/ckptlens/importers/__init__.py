"""Importers: other tools' evaluation outputs (lm-evaluation-harness, llm-jp-eval) into a ckptlens store.
Owns reading their files and mapping them onto records and aggregates.
May import averaging, store, world, tasks, checkpoints, files, errors (not evaluation, beside it).
"""

from ckptlens.importers.lm_eval import ImportSummary, import_lm_eval

__all__ = ["ImportSummary", "import_lm_eval"]
