"""Rows written once and never changed or removed (the audit trail, published figures): the ORM refuses every
path to UPDATE or DELETE them; each table's migration adds database triggers as well."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models


class WriteOnceError(Exception):
    """A row that is written once was about to be changed or removed."""


class WriteOnceQuerySet(models.QuerySet[Any]):
    def _refuse(self, verb: str) -> WriteOnceError:
        model: Any = self.model
        return model.refusal(f"{model.write_once_what}: no {verb}")

    def update(self, **kwargs: Any) -> int:
        raise self._refuse("UPDATE")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise self._refuse("DELETE")

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise self._refuse("UPDATE")


class WriteOnceModel(models.Model):
    refusal: ClassVar[type[WriteOnceError]] = WriteOnceError
    write_once_what: ClassVar[str] = "these rows are written once"

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise self.refusal(f"{self.write_once_what}: no UPDATE")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise self.refusal(f"{self.write_once_what}: no DELETE")
