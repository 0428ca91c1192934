from __future__ import annotations


class ServiceError(Exception):
    """A rule of the domain refused the change. The message is translated and shown to the user as is.

    ``field`` names the form field the message belongs to, when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
