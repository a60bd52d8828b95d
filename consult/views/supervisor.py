"""The supervisor's pages: the live board and the figures (with CSV export). HTTP only."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from ..errors import InvalidInput
from ..forms import FiguresForm
from ..models import StaffProfile
from ..selectors.figures import figures_csv, figures_report, office_today
from .decorators import supervisor_required


@require_GET
@supervisor_required
def board_page(request: HttpRequest, staff: StaffProfile) -> HttpResponse:
    """The live board; the page fills itself from the staff WebSocket (``board`` frame)."""
    return render(request, "consult/board.html", {"staff": staff})


def _report(request: HttpRequest) -> tuple[FiguresForm, Any, str | None]:
    if request.GET:
        form = FiguresForm(request.GET)
    else:
        today = office_today()
        form = FiguresForm(initial={"date_from": today, "date_to": today})
    if form.is_bound and not form.is_valid():
        return form, None, " ".join(str(e) for errors in form.errors.values() for e in errors)
    date_from, date_to = form.period()
    try:
        report = figures_report(
            date_from=date_from, date_to=date_to, language=get_language() or "id"
        )
    except InvalidInput:
        return form, None, _("Choose a range of at most 366 days, the end not before the start.")
    return form, report, None


@require_GET
@supervisor_required
def figures_page(request: HttpRequest, staff: StaffProfile) -> HttpResponse:
    """Figures per topic and counselor for today or the chosen office days."""
    form, report, problem = _report(request)
    return render(
        request,
        "consult/figures.html",
        {"staff": staff, "form": form, "report": report, "problem": problem},
        status=400 if problem else 200,
    )


@require_GET
@supervisor_required
def figures_csv_page(request: HttpRequest, staff: StaffProfile) -> HttpResponse:
    """The same figures as a CSV download."""
    _form, report, problem = _report(request)
    if report is None:
        return HttpResponse(problem or "", status=400, content_type="text/plain; charset=utf-8")
    name = f"loket-figures-{report.date_from.isoformat()}-{report.date_to.isoformat()}.csv"
    response = HttpResponse(figures_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
