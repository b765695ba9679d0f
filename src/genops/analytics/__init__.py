"""Reading the ledger for people: reports (and later exports, forecasts, recommendations).

Everything here reads the ledger through `Ledger.spend` / `Ledger.events`; nothing re-prices or
re-aggregates money on its own.
"""

from .periods import PERIOD_NAMES, Period, parse_period
from .report import Report, build_report

__all__ = ["PERIOD_NAMES", "Period", "Report", "build_report", "parse_period"]
