"""Tables in the terminal, figures, and one self-contained HTML page; everything also as CSV/JSON."""

from ckptlens.report.build import ReportConfig, write_report

__all__ = ["ReportConfig", "write_report"]
