"""Root URLs."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from consult import api, applicant_api, office_api, supervisor_views, tools_api, video_api, views

urlpatterns = [
    path("", views.applicant_page, name="applicant"),
    path("counselor/", views.counselor_page, name="counselor"),
    path("supervisor/", supervisor_views.board_page, name="supervisor-board"),
    path("supervisor/figures/", supervisor_views.figures_page, name="supervisor-figures"),
    path(
        "supervisor/figures.csv",
        supervisor_views.figures_csv_page,
        name="supervisor-figures-csv",
    ),
    path("transcripts/", views.transcripts_page, name="transcripts"),
    path("transcripts/<str:public_id>/", views.transcript_page, name="transcript"),
    path("login/", auth_views.LoginView.as_view(template_name="consult/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="/login/"), name="logout"),
    path("api/topics", api.topics, name="api-topics"),
    path("api/consultations", api.consultation_create, name="api-consultation-create"),
    path(
        "api/consultations/<str:public_id>/transcript",
        api.transcript,
        name="api-transcript",
    ),
    path(
        "api/consultations/<str:public_id>/rating",
        applicant_api.rating_submit,
        name="api-rating",
    ),
    path(
        "api/consultations/<str:public_id>/requirements",
        applicant_api.requirements,
        name="api-requirements",
    ),
    path(
        "c/<str:public_id>/transcript",
        applicant_api.transcript_page,
        name="applicant-transcript",
    ),
    path("api/kb/search", tools_api.kb_search, name="api-kb-search"),
    path("api/canned-replies", tools_api.canned_replies, name="api-canned-replies"),
    path(
        "api/canned-replies/<int:reply_id>",
        tools_api.canned_reply,
        name="api-canned-reply",
    ),
    path("api/ice-servers", video_api.ice_servers, name="api-ice-servers"),
    path(
        "api/consultations/<str:public_id>/precheck",
        video_api.precheck_start,
        name="api-precheck-start",
    ),
    path(
        "api/consultations/<str:public_id>/precheck/<str:check_id>",
        video_api.precheck_check,
        name="api-precheck",
    ),
    path("api/office", office_api.office, name="api-office"),
    path(
        "api/offline-questions",
        office_api.offline_question_create,
        name="api-offline-question-create",
    ),
    path(
        "api/staff/offline-questions",
        office_api.staff_offline_questions,
        name="api-staff-offline-questions",
    ),
    path(
        "api/staff/offline-questions/<str:reference>",
        office_api.staff_offline_question,
        name="api-staff-offline-question",
    ),
    path(
        "api/staff/offline-questions/<str:reference>/answer",
        office_api.staff_offline_answer,
        name="api-staff-offline-answer",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
