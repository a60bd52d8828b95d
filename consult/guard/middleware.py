"""HTTP response headers every Loket page and API answer gets (beyond Django's and django-csp's)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers
from django.utils.deprecation import MiddlewareMixin


class NoStoreMiddleware(MiddlewareMixin):
    """``Cache-Control: no-store, private`` on every response that did not set its own.

    Staff pages and API answers carry transcripts and personal data, the applicant's pages their
    own conversation and a CSRF token; none of it may stay in a shared or browser cache (the
    back button after logout must not show a transcript). Static files are served outside
    Django's middleware and keep their own caching.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
