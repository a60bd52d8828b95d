"""The counselor's console; the page fills itself from the staff WebSocket."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.utils.translation import gettext as _

from ..api.http import staff_of
from ..errors import DomainError
from ..selectors import topics_active


@login_required
def counselor_page(request: HttpRequest) -> HttpResponse:
    """The counselor's console."""
    try:
        staff = staff_of(request)
    except DomainError:
        return HttpResponseForbidden(_("Staff only."))
    topics = topics_active()
    return render(request, "consult/counselor.html", {"staff": staff, "topics": topics})
