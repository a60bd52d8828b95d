"""Root URLs."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from consult.api import (
    calls,
    consultations,
    knowledge,
    office,
    offline_questions,
    precheck,
    records,
    replies,
    topics,
    transcripts,
)
from consult.views import applicant, counselor, supervisor
from consult.views import transcripts as transcript_pages

urlpatterns = [
    path("", applicant.applicant_page, name="applicant"),
    path("counselor/", counselor.counselor_page, name="counselor"),
    path("supervisor/", supervisor.board_page, name="supervisor-board"),
    path("supervisor/figures/", supervisor.figures_page, name="supervisor-figures"),
    path(
        "supervisor/figures.csv",
        supervisor.figures_csv_page,
        name="supervisor-figures-csv",
    ),
    path("transcripts/", transcript_pages.transcripts_page, name="transcripts"),
    path("transcripts/<str:public_id>/", transcript_pages.transcript_page, name="transcript"),
    path("login/", auth_views.LoginView.as_view(template_name="consult/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="/login/"), name="logout"),
    path("api/topics", topics.topics, name="api-topics"),
    path("api/consultations", consultations.consultation_create, name="api-consultation-create"),
    path(
        "api/consultations/<str:public_id>/transcript",
        transcripts.transcript,
        name="api-transcript",
    ),
    path(
        "api/consultations/<str:public_id>/rating",
        consultations.rating_submit,
        name="api-rating",
    ),
    path(
        "api/consultations/<str:public_id>/requirements",
        consultations.requirements,
        name="api-requirements",
    ),
    path(
        "c/<str:public_id>/transcript",
        transcript_pages.applicant_transcript_page,
        name="applicant-transcript",
    ),
    path(
        "api/consultations/<str:public_id>/evidence",
        records.evidence,
        name="api-evidence",
    ),
    path(
        "c/<str:public_id>/evidence.json",
        transcript_pages.applicant_evidence,
        name="applicant-evidence",
    ),
    path(".well-known/loket/keys", records.keys, name="records-keys"),
    path(".well-known/loket/verify.html", records.verify_page, name="records-verify-page"),
    path(".well-known/loket/checkpoint", records.checkpoint_latest, name="records-checkpoint"),
    path(".well-known/loket/loket_verify.py", records.verifier_script, name="records-verifier"),
    path(
        "api/records/checkpoints/<int:size>",
        records.checkpoint_at,
        name="records-checkpoint-at",
    ),
    path("api/records/consistency", records.consistency, name="records-consistency"),
    path("api/kb/search", knowledge.kb_search, name="api-kb-search"),
    path("api/canned-replies", replies.canned_replies, name="api-canned-replies"),
    path(
        "api/canned-replies/<int:reply_id>",
        replies.canned_reply,
        name="api-canned-reply",
    ),
    path("api/ice-servers", calls.ice_servers, name="api-ice-servers"),
    path(
        "api/consultations/<str:public_id>/precheck",
        precheck.precheck_start,
        name="api-precheck-start",
    ),
    path(
        "api/consultations/<str:public_id>/precheck/<str:check_id>",
        precheck.precheck_check,
        name="api-precheck",
    ),
    path("api/office", office.office, name="api-office"),
    path(
        "api/offline-questions",
        offline_questions.offline_question_create,
        name="api-offline-question-create",
    ),
    path(
        "api/staff/offline-questions",
        offline_questions.staff_offline_questions,
        name="api-staff-offline-questions",
    ),
    path(
        "api/staff/offline-questions/<str:reference>",
        offline_questions.staff_offline_question,
        name="api-staff-offline-question",
    ),
    path(
        "api/staff/offline-questions/<str:reference>/answer",
        offline_questions.staff_offline_answer,
        name="api-staff-offline-answer",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
