"""Tables in the terminal, figures, and one self-contained HTML page; everything also as CSV/JSON.
Owns presentation only: every number comes from analysis or diagnostics.
May import diagnostics, analysis, importers, evaluation, averaging, store, world, tasks, checkpoints, files, errors.
"""

from ckptlens.report.build import ReportConfig, write_report

__all__ = ["ReportConfig", "write_report"]
