"""Rule priorities (severities), most severe first, with Falco's spellings."""

from __future__ import annotations

from enum import IntEnum


class Priority(IntEnum):
    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFORMATIONAL = 6
    DEBUG = 7

    @property
    def canonical(self) -> str:
        """Name printed in alerts: ``Emergency`` ... ``Informational`` ``Debug``."""
        return _CANONICAL[self]

    @property
    def upper(self) -> str:
        """Name printed in rule-count statistics: ``INFO`` for informational."""
        return "INFO" if self is Priority.INFORMATIONAL else self.name

    @classmethod
    def parse(cls, text: str) -> Priority:
        """Parse a priority name, case-insensitively; ``info`` means informational. ValueError if unknown."""
        t = str(text).strip().lower()
        if t == "info":
            return cls.INFORMATIONAL
        for p in cls:
            if p.name.lower() == t:
                return p
        raise ValueError(f"Invalid priority {text}")


_CANONICAL = {
    Priority.EMERGENCY: "Emergency", Priority.ALERT: "Alert", Priority.CRITICAL: "Critical",
    Priority.ERROR: "Error", Priority.WARNING: "Warning", Priority.NOTICE: "Notice",
    Priority.INFORMATIONAL: "Informational", Priority.DEBUG: "Debug",
}
