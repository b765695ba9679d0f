"""The metric cardinality guard for customer ids (case study, "Challenge 2").

Every distinct `customer_id` on a metric is a new time series a backend such as Datadog bills
for. The guard admits at most `max_values` distinct ids on metrics; any other id is reported as
"other". Admission is first come, first served, optionally pre-seeded with the top spenders (the
runtime can pass the ledger's top customers at startup) so the ids that matter keep their own
series. Spans and the ledger always keep the real id: only metric labels are capped.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .names import OTHER_CUSTOMER


class CardinalityGuard:
    """Maps values to themselves while fewer than `max_values` distinct ones were seen, else to `other`."""

    __slots__ = ("_admitted", "_lock", "max_values", "other")

    def __init__(self, max_values: int, other: str = OTHER_CUSTOMER) -> None:
        if max_values < 0:
            raise ValueError(f"telemetry.customer_id_max_values must be >= 0, got {max_values}")
        self.max_values = max_values
        self.other = other
        self._admitted: set[str] = set()
        self._lock = threading.Lock()

    def admit(self, value: str) -> str:
        """The label to put on a metric for `value`: itself if admitted (or room is left), else `other`."""
        if value in self._admitted:  # the common case: no lock, one set lookup
            return value
        with self._lock:
            if value in self._admitted:
                return value
            if len(self._admitted) < self.max_values:
                self._admitted.add(value)
                return value
        return self.other

    def seed(self, values: Iterable[str]) -> list[str]:
        """Admit `values` in order (most important first) while room is left; returns those admitted."""
        added: list[str] = []
        with self._lock:
            for value in values:
                if len(self._admitted) >= self.max_values:
                    break
                if value is None or value in self._admitted:
                    continue
                self._admitted.add(str(value))
                added.append(str(value))
        return added

    @property
    def admitted(self) -> frozenset[str]:
        """The values that keep their own label."""
        return frozenset(self._admitted)

    @property
    def full(self) -> bool:
        return len(self._admitted) >= self.max_values
