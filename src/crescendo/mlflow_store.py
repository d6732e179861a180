"""Where `logger=mlflow` keeps its runs: pure helpers on tracking URIs, shared by the logger and the sweeper.

Torch- and mlflow-free, so a search can work out its MLflow store without importing either.
"""

from __future__ import annotations

import re
import socket
import urllib.parse
import urllib.request
from pathlib import Path

__all__ = ["RUN_DIR_TAG", "SQLITE", "artifact_location_for", "cannot_open", "local_tracking_uri", "run_name_for",
           "shown", "unreachable_server"]

#: the tag naming a run's directory (absolute)
RUN_DIR_TAG = "crescendo.run_dir"
SQLITE = "sqlite:///"


def local_tracking_uri(uri: str) -> str:
    """A SQLite URI with an absolute path (a relative one would follow the process's working directory);
    any other URI unchanged."""
    if not uri.startswith(SQLITE) or uri.startswith(SQLITE + "/") or uri == SQLITE + ":memory:":
        return uri
    return SQLITE + str(Path(uri[len(SQLITE):]).absolute())


def artifact_location_for(uri: str) -> str | None:
    """Where a new experiment's artifacts go: beside a local SQLite store; None (the server's default) otherwise."""
    uri = local_tracking_uri(uri)
    if not uri.startswith(SQLITE + "/"):
        return None
    return str(Path(uri[len(SQLITE):]).parent / "mlartifacts")


def run_name_for(run_dir: str) -> str:
    """The run directory as the user would type it: relative to the working directory when inside it."""
    path = Path(run_dir).absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def shown(uri: str) -> str:
    """The URI as messages show it: a password replaced by *** (as `crescendo.search.storage.hide_password`)."""
    return re.sub(r"(://[^:/@]+:)[^@/]*@", r"\1***@", uri)


def cannot_open(uri: str, why: str) -> str:
    """The one message for a tracking store that cannot be opened (a run's logger, a search's plan)."""
    return (f"logger.mlflow.tracking_uri={shown(uri)}: cannot open the MLflow tracking store ({why}) — start the "
            "tracking server, or fix the URI (a local store: sqlite:///path/mlflow.db)")


def unreachable_server(uri: str, timeout: float = 5.0) -> str | None:
    """Why no tracking server can be there at an http(s) `uri` (no TCP connection within `timeout`
    seconds), else None. MLflow retries a server that does not answer for about 4 minutes, which is
    right for a server that went away mid-run and wrong for one that was never started: this is asked
    once, before the first run. None as well for a local store, and where a proxy is set for the
    host (only the proxy could tell)."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None
    if parsed.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(parsed.hostname):
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return None
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        return f"nothing answers at {parsed.hostname}:{port}: {reason}"
