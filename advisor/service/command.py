"""``advisor serve``: the click command. Kept light — FastAPI and uvicorn are imported when it
runs, not when the command line loads."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

import click

from advisor.base.errors import UsageError


def default_data_dir() -> Path:
    """``$ADVISOR_HOME``, else the user data folder (``~/.local/share/loss-advisor`` on Linux)."""
    if os.environ.get("ADVISOR_HOME"):
        return Path(os.environ["ADVISOR_HOME"])
    import platformdirs

    return Path(platformdirs.user_data_dir("loss-advisor"))


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback
                               for info in infos)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --token.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port; the URL is printed).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where jobs, uploads and the trial cache live (default: $ADVISOR_HOME, else "
                   "the user data folder).")
@click.option("--token", envvar="ADVISOR_TOKEN", show_envvar=True,
              help="Require 'Authorization: Bearer TOKEN' on every /v1 route.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes: jobs that run at once.")
@click.option("--max-upload-mb", type=click.FloatRange(min=0, min_open=True), default=100.0,
              show_default=True, help="Largest upload accepted (413 above it).")
@click.option("--max-budget", type=click.FloatRange(min=0, min_open=True), default=600.0,
              show_default=True, help="Largest validation budget a job may ask for, in seconds.")
@click.option("--queue-limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="Jobs that may wait; further submissions get 429 with Retry-After.")
@click.option("--max-attempts", type=click.IntRange(min=1), default=3, show_default=True,
              help="Times a job is started before a dying worker fails it.")
@click.option("--scheduler", envvar="ADVISOR_SCHEDULER", show_envvar=True,
              help="Run every job's trials on this Dask cluster (tcp://HOST:PORT).")
@click.option("--stale-after", type=click.FloatRange(min=1), default=120.0, hidden=True,
              help="Seconds without a heartbeat after which a running job's worker is stopped "
                   "and the job retried.")
def serve_command(host, port, data_dir, token, jobs, max_upload_mb, max_budget, queue_limit,
                  max_attempts, scheduler, stale_after):
    """Serve the advisor over HTTP: jobs in SQLite, run by worker processes, with a web page.

    \b
    Example:
      advisor serve --port 8000
      curl -F file=@data.csv -F target=y http://127.0.0.1:8000/v1/jobs
    """
    if not token and not is_loopback(host):
        raise UsageError(f"Refusing to listen on {host} without --token: anyone who can reach "
                         "it could run jobs and read results. Pass --token (or set "
                         "$ADVISOR_TOKEN), or listen on 127.0.0.1.")
    if token is not None and not token.strip():
        raise UsageError("--token is empty; pass a secret string (e.g. from "
                         "python -c 'import secrets; print(secrets.token_urlsafe())').")
    import logging

    import uvicorn

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-9s %(message)s"))
    service_log = logging.getLogger("advisor.serve")
    service_log.addHandler(handler)
    service_log.setLevel(logging.INFO)

    from advisor.service.app import Service, Settings, create_app

    settings = Settings(data_dir=data_dir or default_data_dir(), token=token, jobs=jobs,
                        max_upload_mb=max_upload_mb, max_budget=max_budget,
                        queue_limit=queue_limit, max_attempts=max_attempts,
                        stale_seconds=stale_after, scheduler=scheduler)
    service = Service(settings)
    service.open()  # fails now, with one line, if the folder is unusable or taken
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        service.close()
        raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another "
                         "--port (0: any free one).") from None
    sock.listen(128)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"advisor serve: listening on http://{shown}:{bound} (data in "
               f"{service.data_dir}, {jobs} worker{'s' if jobs != 1 else ''}"
               + (f", trials on the Dask cluster {scheduler}" if scheduler else "") + ")")
    sys.stdout.flush()
    config = uvicorn.Config(create_app(service), log_level="info", lifespan="on",
                            timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
