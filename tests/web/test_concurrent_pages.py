"""Pages answered at the same time, as several responders' polling tabs ask for them, against a
real `tocsin serve`: none waits on another (on SQLite a page holds the database's one lock
from its first query to its end, so a query on the event loop could wait for a request that
can only finish through that loop)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.server import ServerProcess
from tests.support.web_pages import declare
from tocsin.services import passwords
from tocsin.services.actor import Actor

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"


def _logged_in(server: ServerProcess, email: str) -> tuple[httpx.Cookies, str]:
    with httpx.Client(base_url=server.url) as client:
        answer = client.post("/login", data={"email": email, "password": PASSWORD, "next": "/"})
        assert answer.status_code == 303, answer.text
        page = client.get("/incidents/new").text if email.startswith("bob") else ""
        token = page.split('name="csrf_token" value="')[1].split('"')[0] if page else ""
        return client.cookies, token


def test_pages_asked_for_at_once_all_answer_promptly(
    server: ServerProcess, personas: Personas, sessions: sessionmaker[Session]
) -> None:
    with sessions() as db:
        for persona in (personas.bob, personas.charlie):
            passwords.set_password(db, Actor.system("tests"), server.now, persona.email, PASSWORD)
        db.commit()
    ref = declare(sessions, server.now, "Checkout is failing", "P1")
    charlie, _ = _logged_in(server, "charlie@example.com")
    bob, token = _logged_in(server, "bob@example.com")
    pages = ["/", "/dashboard/incidents", f"/incidents/{ref}", f"/incidents/{ref}/timeline", "/incidents"] * 4

    def get(path: str) -> tuple[int, float]:
        started = time.monotonic()
        answer = httpx.get(server.url + path, cookies=charlie, timeout=60)
        return answer.status_code, time.monotonic() - started

    def note(n: int) -> tuple[int, float]:
        started = time.monotonic()
        answer = httpx.post(
            f"{server.url}/incidents/{ref}/notes",
            data={"csrf_token": token, "text": f"note {n}"},
            cookies=bob,
            timeout=60,
        )
        return answer.status_code, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=len(pages) + 4) as pool:
        reads = [pool.submit(get, path) for path in pages]
        writes = [pool.submit(note, n) for n in range(4)]
        answers = [f.result() for f in reads + writes]
    assert [status for status, _ in answers] == [200] * len(pages) + [303] * 4
    assert max(seconds for _, seconds in answers) < 15  # they waited 30 s for SQLite's lock, and failed
