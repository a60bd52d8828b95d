"""The HTML pages: ``applicant`` (join, wait, chat), ``counselor`` (the console), ``supervisor``
(live board, figures) and ``transcripts`` (staff transcript search and reading, the applicant's
own transcript after the end); ``decorators`` says who may open a staff page.

A page reads what it shows through selectors and renders a template (a transcript read is also
recorded). It may import ``consult.selectors``, ``consult.forms``, ``consult.errors``,
``consult.api.http`` (who is asking) and django; nothing imports it but ``config.urls``.
"""
