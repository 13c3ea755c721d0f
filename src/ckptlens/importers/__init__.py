"""Importers: other tools' evaluation outputs into a ckptlens store (lm-evaluation-harness today)."""

from ckptlens.importers.lm_eval import ImportSummary, import_lm_eval

__all__ = ["ImportSummary", "import_lm_eval"]
