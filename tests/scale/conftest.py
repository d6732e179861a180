"""Fixtures of the scale-out tests: the fake search app, a real PostgreSQL server, study inspection."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "search"))  # fake_app: the sweeper's tiny test app


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """$CRESCENDO_TEST_POSTGRES_URL (.ci/run starts the server), else a private server started here
    with scripts/postgres.sh and stopped at the end of the session."""
    url = os.environ.get("CRESCENDO_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    env = {**os.environ, "CRESCENDO_PG_DIR": f"/tmp/crescendo-pg-pytest-{os.getpid()}"}
    script = str(ROOT / "scripts" / "postgres.sh")
    started = subprocess.run(["bash", script, "start"], capture_output=True, text=True, env=env, timeout=180)
    assert started.returncode == 0, f"scripts/postgres.sh start failed:\n{started.stdout}\n{started.stderr}"
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", script, "stop"], capture_output=True, env=env, timeout=120)


@pytest.fixture
def study_name() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"
