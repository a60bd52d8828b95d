# Records (docs/RECORDS.md): the chain's columns, seals, the office's Merkle log, its checkpoints
# and signing keys. Entries written before are chained here, in seq order per consultation;
# consultations that ended before are sealed by the sweeper (records.seal_pending), which needs
# the office key and so does not run in a migration.

import django.db.models.deletion
from django.db import migrations, models


def chain_existing(apps, schema_editor):
    from consult.records import chain

    Consultation = apps.get_model("consult", "Consultation")
    TranscriptEntry = apps.get_model("consult", "TranscriptEntry")
    LogHead = apps.get_model("consult", "LogHead")
    LogHead.objects.get_or_create(pk=1)
    pending = (
        TranscriptEntry.objects.filter(hash="").values_list("consultation_id", flat=True).distinct()
    )
    for consultation_id in list(pending):
        public_id = str(
            Consultation.objects.filter(pk=consultation_id).values_list("public_id", flat=True)[0]
        )
        prev = chain.ZERO
        for entry in TranscriptEntry.objects.filter(consultation_id=consultation_id).order_by(
            "seq"
        ):
            entry.salt = chain.new_salt()
            entry.text_hash = chain.text_hash(entry.salt, entry.text)
            entry.hash = chain.hash_of(entry, public_id=public_id, prev=prev)
            entry.save(update_fields=["salt", "text_hash", "hash"])
            prev = entry.hash


class Migration(migrations.Migration):

    dependencies = [
        ("consult", "0010_topic_ended_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="consultation",
            name="sealed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="consultation",
            index=models.Index(
                condition=models.Q(
                    ("sealed_at__isnull", True), ("status__in", ["ended", "abandoned"])
                ),
                fields=["id"],
                name="consult_unsealed",
            ),
        ),
        migrations.AddField(
            model_name="transcriptentry",
            name="salt",
            field=models.CharField(default="", max_length=32),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="transcriptentry",
            name="text_hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="transcriptentry",
            name="hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="transcriptaccess",
            name="addendum_n",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="internalnote",
            name="addendum_n",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="SigningKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key_id", models.CharField(max_length=16, unique=True)),
                ("public_key", models.CharField(max_length=44)),
                ("created_at", models.DateTimeField()),
                ("retired_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"ordering": ["created_at", "pk"]},
        ),
        migrations.CreateModel(
            name="RecordStatement",
            fields=[
                ("index", models.PositiveBigIntegerField(primary_key=True, serialize=False)),
                ("n", models.PositiveIntegerField()),
                ("statement", models.TextField()),
                ("signature", models.CharField(max_length=88)),
                ("hash", models.CharField(max_length=64)),
                ("salts", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField()),
                (
                    "consultation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="consult.consultation",
                    ),
                ),
            ],
            options={
                "ordering": ["index"],
                "constraints": [
                    models.UniqueConstraint(fields=("consultation", "n"), name="statement_n_unique")
                ],
            },
        ),
        migrations.CreateModel(
            name="LogNode",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("level", models.PositiveSmallIntegerField()),
                ("index", models.PositiveBigIntegerField()),
                ("hash", models.CharField(max_length=64)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("level", "index"), name="lognode_unique")
                ],
            },
        ),
        migrations.CreateModel(
            name="LogHead",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("size", models.PositiveBigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="Checkpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("size", models.PositiveBigIntegerField(unique=True)),
                ("root", models.CharField(max_length=64)),
                ("note", models.TextField()),
                ("created_at", models.DateTimeField()),
            ],
            options={"ordering": ["-size"]},
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
    ]
