# Knowledge base, canned replies, internal notes, and a consultation's outcome and rating.

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


def move_transfer_notes(apps, schema_editor):
    """Transfer notes used to sit in the ``transferred`` event's data, which the applicant
    receives: move each into an internal note and strip it from the event."""
    entry_model = apps.get_model("consult", "TranscriptEntry")
    note_model = apps.get_model("consult", "InternalNote")
    for entry in entry_model.objects.filter(event="transferred").iterator():
        data = dict(entry.data or {})
        note = data.pop("note", None)
        if note is None:
            continue
        if str(note).strip():
            note_model.objects.create(
                consultation_id=entry.consultation_id,
                author=None,
                kind="transfer",
                text=str(note),
                created_at=entry.created_at,
            )
        entry.data = data
        entry.save(update_fields=["data"])


class Migration(migrations.Migration):
    dependencies = [
        ("consult", "0003_video_calls_and_precheck"),
    ]

    operations = [
        migrations.CreateModel(
            name="CannedReply",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("title", models.CharField(max_length=80, verbose_name="title")),
                ("text", models.TextField(max_length=4000, verbose_name="text")),
                (
                    "language",
                    models.CharField(
                        blank=True,
                        choices=[("id", "Indonesian"), ("en", "English")],
                        max_length=2,
                        verbose_name="language",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "owner",
                    models.ForeignKey(
                        blank=True,
                        help_text="Leave empty for a reply shared with every counselor.",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="canned_replies",
                        to="consult.staffprofile",
                        verbose_name="owner",
                    ),
                ),
            ],
            options={
                "verbose_name": "canned reply",
                "verbose_name_plural": "canned replies",
                "ordering": ["title", "pk"],
            },
        ),
        migrations.CreateModel(
            name="InternalNote",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("note", "Note"), ("transfer", "Transfer note")],
                        default="note",
                        max_length=10,
                    ),
                ),
                ("text", models.TextField()),
                ("created_at", models.DateTimeField()),
                (
                    "author",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="consult.staffprofile",
                    ),
                ),
                (
                    "consultation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notes",
                        to="consult.consultation",
                    ),
                ),
            ],
            options={
                "ordering": ["consultation", "created_at", "pk"],
            },
        ),
        migrations.CreateModel(
            name="KnowledgeArticle",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("title_id", models.CharField(max_length=160, verbose_name="title (Indonesian)")),
                ("title_en", models.CharField(max_length=160, verbose_name="title (English)")),
                (
                    "requirements_id",
                    models.TextField(blank=True, verbose_name="requirements (Indonesian)"),
                ),
                (
                    "requirements_en",
                    models.TextField(blank=True, verbose_name="requirements (English)"),
                ),
                (
                    "procedure_id",
                    models.TextField(blank=True, verbose_name="procedure (Indonesian)"),
                ),
                ("procedure_en", models.TextField(blank=True, verbose_name="procedure (English)")),
                (
                    "legal_basis_id",
                    models.TextField(blank=True, verbose_name="legal basis (Indonesian)"),
                ),
                (
                    "legal_basis_en",
                    models.TextField(blank=True, verbose_name="legal basis (English)"),
                ),
                ("fees_id", models.TextField(blank=True, verbose_name="fees (Indonesian)")),
                ("fees_en", models.TextField(blank=True, verbose_name="fees (English)")),
                ("active", models.BooleanField(default=True, verbose_name="active")),
                ("order", models.PositiveSmallIntegerField(default=0, verbose_name="order")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated")),
                (
                    "topic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="articles",
                        to="consult.topic",
                        verbose_name="topic",
                    ),
                ),
            ],
            options={
                "verbose_name": "knowledge-base article",
                "verbose_name_plural": "knowledge base",
                "ordering": ["topic", "order", "pk"],
            },
        ),
        migrations.AddField(
            model_name="consultation",
            name="outcome",
            field=models.CharField(
                blank=True,
                choices=[
                    ("answered", "Question answered"),
                    ("referred", "Referred elsewhere"),
                    ("needs_documents", "Needs more documents"),
                    ("out_of_scope", "Outside the office's remit"),
                    ("other", "Other"),
                ],
                max_length=20,
                verbose_name="outcome",
            ),
        ),
        migrations.AddField(
            model_name="consultation",
            name="rated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="consultation",
            name="rating",
            field=models.PositiveSmallIntegerField(
                blank=True,
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(5),
                ],
                verbose_name="rating",
            ),
        ),
        migrations.AddField(
            model_name="consultation",
            name="rating_comment",
            field=models.TextField(blank=True, verbose_name="rating comment"),
        ),
        migrations.AddConstraint(
            model_name="consultation",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("rating__isnull", True),
                    models.Q(("rating__gte", 1), ("rating__lte", 5)),
                    _connector="OR",
                ),
                name="consultation_rating_1_to_5",
            ),
        ),
        migrations.RunPython(move_transfer_notes, migrations.RunPython.noop),
    ]
