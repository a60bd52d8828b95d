"""Query forms of the supervisor's pages (figures, transcript search): GET parameters only."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from .models import Outcome, StaffProfile
from .selectors.figures import MAX_RANGE_DAYS, office_today
from .selectors.staff import counselors_all
from .selectors.topics import topics_all
from .selectors.transcript import MAX_TEXT_QUERY, TranscriptQuery

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _choice(form: forms.Form, name: str) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields[name])


class _DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


# Office days a report or a search may name. Python's dates end at 9999-12-31, and the day after
# the last one and the 30 days before the first one are computed: a form that took any date
# would fail there (an OverflowError, answered 500) instead of saying what is wrong.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2999, 12, 31)


def _day_field(label: StrOrPromise) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=_DateInput(),
        validators=[MinValueValidator(EARLIEST_DAY), MaxValueValidator(LATEST_DAY)],
    )


class _PeriodForm(forms.Form):
    date_from = _day_field(_("From"))
    date_to = _day_field(_("To"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end date is before the start date."))
            if (end - start).days >= MAX_RANGE_DAYS:
                raise forms.ValidationError(
                    _("Choose at most %(days)s days.") % {"days": MAX_RANGE_DAYS}
                )
        return data


class FiguresForm(_PeriodForm):
    """The office days a figures report covers (default: today)."""

    def period(self) -> tuple[date, date]:
        data = self.cleaned_data if self.is_valid() else {}
        today = office_today()
        start, end = data.get("date_from"), data.get("date_to")
        if end is None:
            end = today if start is None or start <= today else start
        return start or end, end


class TranscriptSearchForm(_PeriodForm):
    """Transcript filters. Counselors have no counselor filter: they see only their own."""

    topic = forms.ChoiceField(label=_("Topic"), required=False)
    counselor = forms.TypedChoiceField(
        label=_("Counselor"), required=False, coerce=int, empty_value=None
    )
    outcome = forms.ChoiceField(label=_("Outcome"), required=False)
    rating = forms.TypedChoiceField(
        label=_("Rating"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("Any")), *((str(n), str(n)) for n in range(1, 6))],
    )
    q = forms.CharField(label=_("Words in the conversation"), required=False, max_length=200)

    def __init__(self, *args: Any, staff: StaffProfile, language: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "topic").choices = [("", _("All topics"))] + [
            (t.code, t.name_for(language)) for t in topics_all()
        ]
        _choice(self, "outcome").choices = [("", _("Any")), *Outcome.choices]
        if staff.is_supervisor:
            _choice(self, "counselor").choices = [("", _("All counselors"))] + [
                (str(c.pk), c.display_name) for c in counselors_all()
            ]
        else:
            del self.fields["counselor"]

    def query(self) -> TranscriptQuery:
        """The search as the selector takes it (an invalid form searches with no filters)."""
        if not self.is_valid():
            return TranscriptQuery()
        data = self.cleaned_data
        return TranscriptQuery(
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            topic=data.get("topic") or "",
            counselor_id=data.get("counselor"),
            outcome=data.get("outcome") or "",
            rating=data.get("rating"),
            text=(data.get("q") or "")[:MAX_TEXT_QUERY],
        )
