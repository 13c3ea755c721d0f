"""Tables in the terminal, figures, and one self-contained HTML page; everything also as CSV/JSON.
Owns presentation only: every number comes from analysis or diagnostics.
May import diagnostics, analysis, importers, evaluation, averaging, store, world, tasks, checkpoints, files, errors.

``ReportConfig`` and ``write_report`` load ``report.build`` (every section, torch included) on first use, so that
a command printing one table from ``report.tables`` does not pay for the whole page.
"""

__all__ = ["ReportConfig", "write_report"]


def __getattr__(name: str):
    if name in __all__:
        from ckptlens.report import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
