"""An offline question answered with the default e-mail settings leaves no personal data in the
server's log: a real Daphne process on PostgreSQL, nothing but the database and the secret key
configured (no EMAIL_BACKEND), logging at DEBUG, its whole output captured.

With Django's console backend (the default before) the answer mail, with the applicant's
address, name and question, was printed into that output.
"""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import HttpClient
from tests.support.needs import postgres_url
from tests.support.servers import DaphneServer, Database, daphne_servers, manage, process_env

pytestmark = [pytest.mark.processes, pytest.mark.postgres]

PASSWORD = "rahasia-konselor-1"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[DaphneServer, Path]]:
    database = Database(postgres_url())
    database.create()
    mail_dir = tmp_path / "mail"
    # EMAIL_FILE_PATH only moves the default backend's directory out of the repository's var/.
    env = process_env(
        database_url=database.url, LOKET_LOG_LEVEL="DEBUG", EMAIL_FILE_PATH=str(mail_dir)
    )
    assert "EMAIL_BACKEND" not in env
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--topics-only")
        manage(
            env,
            "create_staff",
            "--role=counselor",
            "--username=sari",
            f"--password={PASSWORD}",
            "--name=Sari",
            "--topics=building-approval",
        )
        with daphne_servers(env, ["main"], tmp_path) as (daphne,):
            yield daphne, mail_dir
    finally:
        database.drop()


def test_an_answered_offline_question_leaves_no_personal_data_in_the_log(
    server: tuple[DaphneServer, Path],
) -> None:
    daphne, mail_dir = server
    marker = uuid.uuid4().hex[:8]
    name = f"Ani Wijaya{marker}"
    email = f"ani.{marker}@example.id"
    phone = "081298765432"
    question = f"Apakah rumah {marker} perlu gambar arsitek?"
    answer = f"Ya, untuk rumah {marker} dua lantai perlu."

    applicant = HttpClient(daphne.http_url)
    asked = applicant.post_json(
        "/api/offline-questions",
        {
            "name": name,
            "email": email,
            "phone": phone,
            "topic": "building-approval",
            "question": question,
            "language": "id",
        },
    )
    assert asked.status == 201, asked.body
    reference = asked.json()["reference"]

    counselor = HttpClient(daphne.http_url)
    counselor.login("sari", PASSWORD)
    answered = counselor.request(
        "POST",
        f"/api/staff/offline-questions/{reference}/answer",
        json.dumps({"text": answer}).encode(),
        {
            "Content-Type": "application/json",
            "X-CSRFToken": counselor.cookies["csrftoken"],
            "Origin": daphne.http_url,
            "Referer": daphne.http_url + "/counselor/",
        },
    )
    assert answered.status == 200, answered.body
    daphne.stop()

    log = daphne.log()
    for personal in (name, marker, email, phone, question, answer):
        assert personal not in log, f"{personal!r} is in the server log"
    assert "e-mail message(s) kept" in log

    # The mail was sent: kept where only the server's user can read it.
    files = list(mail_dir.iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(mail_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert email in files[0].read_text(errors="replace")
