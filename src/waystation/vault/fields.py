"""Field types that mark a column as sensitive.

This is the one place that says which data is sensitive: every model field holding a name, alias, exact date,
contact, narrative, note or photo uses one of these types. Reading them for display goes through
``waystation.vault.reveal`` (which audits first); the protection work encrypts them here, in the field type,
without touching the models that use them.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class SensitiveTextField(models.TextField):
    sensitive = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)


class SensitiveBinaryField(models.BinaryField):
    sensitive = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blank", True)
        kwargs.setdefault("null", True)
        super().__init__(*args, **kwargs)


def is_sensitive(field: Any) -> bool:
    return bool(getattr(field, "sensitive", False))
