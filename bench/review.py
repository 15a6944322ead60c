"""The trainee page's API calls for a trainee with many sessions (issue 10, "Proof and figures").

Seeds one trainee with ``--sessions`` ended sessions (default 500), each with three submitted
forms (Mini-CEX, DOPS, EPA observation) and a mark cited as evidence, followed by one supervisor;
then, against the real app under uvicorn on loopback, times sequential requests of the calls the
trainee page and the review home make: ``GET /api/trainees/{id}/progress`` (the progress query;
the points of each instrument's newest 50 assessments, as the page asks), the same with every
point (``?latest=1000``, for comparison), ``…/views`` (who viewed the record), ``…/progress.csv``,
``GET /api/review``; and ``GET /api/me`` as the baseline (the cheapest signed-in call, measured
the same way in the same run). Goal: progress p95 ≤ 100 ms.

    .venv/bin/python bench/review.py [--sessions 500] [--requests 40] [--db sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.config import Config
from server.infra.roles import Role, User
from tests.support import RunningServer, postgres_database, running_server

PASSWORD = "bench-password-1"
T0 = 1_700_000_000.0


def _mini_cex(n: int) -> dict[str, object]:
    level = 3 + n % 7
    return {
        "setting": "inpatient",
        "complexity": "moderate",
        "time_observing_min": 15,
        "time_feedback_min": 5,
        "medical_interviewing": level,
        "physical_examination": None if n % 5 == 0 else level,
        "humanistic_professionalism": level,
        "clinical_judgment": level,
        "counseling": level,
        "organization_efficiency": level,
        "overall_clinical_competence": level,
        "comments": f"Session {n}: keep going.",
    }


def _dops(n: int) -> dict[str, object]:
    items = [
        "indications_anatomy_technique",
        "informed_consent",
        "preparation",
        "analgesia_sedation",
        "technical_ability",
        "aseptic_technique",
        "seeks_help",
        "post_procedure_management",
        "communication",
        "professionalism",
        "overall_ability",
    ]
    return {"procedure": "Cannulation", **{i: 1 + (n + k) % 6 for k, i in enumerate(items)}}


async def seed(server: RunningServer, sessions: int) -> tuple[User, User]:
    svc = server.services
    create = svc.accounts.create_user
    trainee = await create(
        email="t@b.org", name="Bench Trainee", role=Role.TRAINEE, password=PASSWORD, actor_id=None
    )
    supervisor = await create(
        email="s@b.org", name="Bench Sup", role=Role.SUPERVISOR, password=PASSWORD, actor_id=None
    )
    mentor = await create(
        email="m@b.org", name="Bench Mentor", role=Role.MENTOR, password=PASSWORD, actor_id=None
    )
    await svc.store.users.assign(supervisor.id, trainee.id)
    templates = {
        i: await svc.instruments.get(i) for i in ("mini-cex-abim", "dops-uk", "epa-observation")
    }
    for n in range(sessions):
        session = await svc.store.sessions.create(
            title=f"Session {n}",
            mentor_id=mentor.id,
            trainee_ids=[trainee.id],
            media_mode="direct",
            scheduled_for=None,
        )
        start = T0 + n * 86_400
        await svc.store.sessions.mark_live(session.id, now=start)
        await svc.store.sessions.end(session.id, now=start + 1800)
        mark = await svc.store.marks.add(
            mark_id=f"m{n:05}",
            session_id=session.id,
            label="moment",
            tags=[],
            at_ms=60_000,
            by_subject=mentor.id,
        )
        answers = {
            "mini-cex-abim": _mini_cex(n),
            "dops-uk": _dops(n),
            "epa-observation": {
                "epa": f"epa_{1 + n % 12:02}",
                "entrustment_level": 1 + n % 9,
                "change": "More.",
            },
        }
        for instrument, responses in answers.items():
            template = templates[instrument]
            assert template is not None
            form = await svc.feedback.create(
                session_id=session.id,
                template=template,
                trainee_id=trainee.id,
                author_id=mentor.id,
                author_name=mentor.name,
                respondent="mentor",
                responses=responses,
                evidence={"clinical_judgment": [mark.id]} if instrument == "mini-cex-abim" else {},
            )
            await svc.feedback.submit(form)
    return trainee, supervisor


async def timed(client: httpx.AsyncClient, path: str, requests: int) -> tuple[float, float]:
    for _ in range(3):  # warm-up
        assert (await client.get(path)).status_code == 200
    took = []
    for _ in range(requests):
        start = time.perf_counter()
        response = await client.get(path)
        took.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    took.sort()
    return statistics.median(took), took[max(0, round(0.95 * len(took)) - 1)]


async def run(database_url: str, data_dir: Path, sessions: int, requests: int, name: str) -> None:
    config = Config(data_dir=data_dir, database_url=database_url, secret_key="bench-secret-0123456")
    async with running_server(config) as server:
        began = time.perf_counter()
        trainee, supervisor = await seed(server, sessions)
        seeded = time.perf_counter() - began
        gc.freeze()  # as `preceptor serve` does once started (server/serving.py)
        client = await server.signed_in(supervisor, PASSWORD)
        # Who viewed the record is the trainee's to read (by now: every look the run made).
        own = await server.signed_in(trainee, PASSWORD)
        base = f"/api/trainees/{trainee.id}"
        try:
            print(f"\n{name}: {sessions} sessions x 3 forms seeded in {seeded:.1f} s")
            print(f"| {name} call | p50 | p95 |\n| --- | --- | --- |")
            for label, path, by in (
                ("GET /api/me (baseline)", "/api/me", client),
                ("GET …/progress", f"{base}/progress", client),
                ("GET …/progress?latest=1000", f"{base}/progress?latest=1000", client),
                ("GET …/progress.csv", f"{base}/progress.csv", client),
                ("GET /api/review", "/api/review", client),
                ("GET …/views (as the trainee)", f"{base}/views", own),
            ):
                p50, p95 = await timed(by, path, requests)
                print(f"| {label} | {p50:.1f} ms | {p95:.1f} ms |")
        finally:
            await client.aclose()
            await own.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db in ("sqlite", "both"):
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            await run(url, Path(tmp), args.sessions, args.requests, "SQLite")
        if args.db in ("postgres", "both"):
            async with postgres_database() as url:
                await run(url, Path(tmp), args.sessions, args.requests, "PostgreSQL")


if __name__ == "__main__":
    asyncio.run(main())
