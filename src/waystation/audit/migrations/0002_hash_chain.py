"""The hash chain (sequence number, leaf hash, chain hash) over existing events, then the append-only triggers."""

from django.db import migrations, models


def chain_existing(apps, schema_editor):
    from waystation.audit import chain

    AuditEvent = apps.get_model("audit", "AuditEvent")
    previous = chain.GENESIS
    for seq, event in enumerate(AuditEvent.objects.order_by("id").iterator(), start=1):
        leaf = chain.leaf_hash(
            chain.canonical_event(
                seq=seq,
                at=event.at,
                actor_id=event.actor_id,
                actor_role=event.actor_role,
                action=event.action,
                target_type=event.target_type,
                target_id=event.target_id,
                case_id=event.case_id,
                purpose=event.purpose,
                details=event.details,
            )
        )
        previous = chain.chain_hash(previous, leaf)
        AuditEvent.objects.filter(pk=event.pk).update(seq=seq, leaf_hash=leaf.hex(), chain_hash=previous.hex())


def install_guard(apps, schema_editor):
    from waystation.audit import guard

    for sql in guard.install_statements(schema_editor.connection.vendor):
        schema_editor.execute(sql)


def drop_guard(apps, schema_editor):
    from waystation.audit import guard

    for sql in guard.drop_statements(schema_editor.connection.vendor):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="at",
            field=models.DateTimeField(db_index=True, verbose_name="time"),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(editable=False, null=True, verbose_name="sequence number"),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="leaf_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="chain_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(editable=False, unique=True, verbose_name="sequence number"),
        ),
        migrations.RunPython(install_guard, drop_guard),
    ]
