"""Case codes out of logs: a log line that joins an address and a time to a case belongs in the audit trail,
which is protected, not in a log file."""

from __future__ import annotations

import logging
import re

# A case code (``KX7M-4RT9``) anywhere, and the segment after ``/cases/`` in a path.
_CASE_CODE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{4}-[A-Za-z0-9]{4}(?![A-Za-z0-9])")
_CASE_SEGMENT = re.compile(r"/cases/(?!register/)[^/\s?]+")


def redact_path(path: str) -> str:
    path = _CASE_SEGMENT.sub("/cases/~", path)
    return _CASE_CODE.sub("~", path)


class RedactCaseCodes(logging.Filter):
    """Rewrites every record's message with case codes masked (Django logs 'Not Found: /cases/KX7M-4RT9/')."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_path(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
