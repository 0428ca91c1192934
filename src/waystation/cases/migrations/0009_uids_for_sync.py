import uuid
from importlib import import_module

from django.db import migrations, models

# SQLite rebuilds ``cases_consent`` to make ``uid`` unique, which breaks the statistics-consent triggers that name
# it: they are dropped before and made again after (as migration 0006 asks of any such migration).
statistics_triggers = import_module("waystation.cases.migrations.0006_person_statistics_consent")

# The case records whose ``uid`` (vault.fields.CaseRecord) also names the row in its ciphertexts' associated data.
CASE_RECORDS = (
    "careplangoal", "casenote", "exploitationepisode", "followuptask", "needsassessment", "referral", "servicerecord",
)  # fmt: skip


def give_each_consent_its_own(apps, schema_editor):
    Consent = apps.get_model("cases", "Consent")
    for consent in Consent.objects.all():
        consent.uid = uuid.uuid4()
        consent.save(update_fields=["uid"])


def refuse_shared_record_uids(apps, schema_editor):
    """A case record's uid is bound into its encrypted fields: giving a row a new one would make them unreadable.
    Every row made since the field exists has its own (uuid4 at creation); rows sharing one cannot be repaired
    here, so say so rather than fail on the constraint with a bare error."""
    for name in CASE_RECORDS:
        model = apps.get_model("cases", name)
        shared = model.objects.values("uid").annotate(n=models.Count("id")).filter(n__gt=1)
        if shared.exists():
            raise RuntimeError(
                f"cases.{name}: rows share one uid, which their encrypted fields are bound to; they cannot be "
                "given new ones. Restore them from a backup made by this version, or start from an empty data folder."
            )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0008_merged_records_indexes"),
    ]

    # Consent: added empty first, then one distinct value per existing row (a callable default would give every
    # existing row the same one), then made unique. Case records: checked distinct, then made unique.
    operations = [
        migrations.AddField(model_name="consent", name="uid", field=models.UUIDField(null=True, editable=False)),
        migrations.RunPython(give_each_consent_its_own, migrations.RunPython.noop),
        migrations.RunPython(statistics_triggers.drop, statistics_triggers.install),
        migrations.AlterField(
            model_name="consent", name="uid", field=models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
        ),
        migrations.RunPython(statistics_triggers.install, statistics_triggers.drop),
        migrations.RunPython(refuse_shared_record_uids, migrations.RunPython.noop),
        *[
            migrations.AlterField(
                model_name=name, name="uid", field=models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
            )
            for name in CASE_RECORDS
        ],
    ]
