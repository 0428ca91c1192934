"""Every coded field's label on a page (``get_FOO_display``) comes from ``lib.choices.install_fast_displays``: the
same label as Django's own, in the active language, for every choice of every field, and the raw value for a code
that is not one of the choices."""

from __future__ import annotations

from functools import partialmethod

from django.apps import apps
from django.utils import translation

OURS = [m for m in apps.get_models() if m.__module__.startswith("waystation.")]


def coded_fields() -> list[tuple[type, str]]:
    return [(model, field.name) for model in OURS for field in model._meta.concrete_fields if field.choices]


def test_every_coded_field_has_the_table_display() -> None:
    fields = coded_fields()
    assert len(fields) > 20
    for model, name in fields:
        assert not isinstance(model.__dict__.get(f"get_{name}_display"), partialmethod), (model, name)


def test_the_labels_are_django_s_in_every_language() -> None:
    checked = 0
    for model, name in coded_fields():
        field = model._meta.get_field(name)
        ours = getattr(model, f"get_{name}_display")
        for value, _label in field.flatchoices:
            instance = model(**{field.attname: value})
            for language in ("en", "ko", "zh-hans"):
                with translation.override(language):
                    assert ours(instance) == model._get_FIELD_display(instance, field), (model, name, value)
                    checked += 1
        stray = model(**{field.attname: "not-a-code"})
        assert ours(stray) == "not-a-code"
    assert checked > 300
    from waystation.cases.models import Person

    english = Person(status="contacted").get_status_display()
    with translation.override("ko"):  # and a label really is translated when shown
        assert Person(status="contacted").get_status_display() not in ("", english, "contacted")
