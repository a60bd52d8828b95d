"""Who may open a staff page: ``staff_required`` and ``supervisor_required``.

Both send anonymous visitors to the login page and answer 403 to anyone else who may not see the
page; the view is called with the staff profile after the request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils.translation import gettext as _

from ..api.http import staff_of
from ..errors import DomainError

View = Callable[..., HttpResponse]


def _staff_page(view: View, *, supervisors: bool) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            staff = staff_of(request)
        except DomainError:
            staff = None
        if supervisors and (staff is None or not staff.is_supervisor):
            return HttpResponseForbidden(_("Supervisors only."))
        if staff is None:
            return HttpResponseForbidden(_("Staff only."))
        return view(request, staff, *args, **kwargs)

    return wrapped


def staff_required(view: View) -> View:
    """Logged-in staff only: others get 403, anonymous visitors the login page."""
    return _staff_page(view, supervisors=False)


def supervisor_required(view: View) -> View:
    """Logged-in supervisors only: others get 403, anonymous visitors the login page."""
    return _staff_page(view, supervisors=True)
