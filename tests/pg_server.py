"""A throwaway PostgreSQL server for the tests: ``initdb`` in a temporary folder, ``postgres``
on 127.0.0.1 and an ephemeral port, stopped by its PID.

The server refuses to run as root, so under root it runs as the ``postgres`` user (or
``nobody``). Durability is off (``fsync``, ``synchronous_commit``): the data lives as long as
the test run. :func:`find_binaries` says what is missing where the server is not installed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_SEARCH = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")


def find_binaries() -> tuple[Path | None, str]:
    """The folder holding ``initdb`` and ``postgres``, or None and what is missing."""
    for folder in _SEARCH:
        if all(os.access(Path(folder, name), os.X_OK) for name in ("initdb", "postgres")):
            return Path(folder), ""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(found).parent, ""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "psycopg is not installed (pip install 'trackwire[postgres]')"
    return None, "the PostgreSQL server binaries (initdb, postgres) are not installed"


def _user() -> tuple[dict[str, Any], int | None, int | None]:
    """subprocess arguments that run the server as a non-root user, and that user's ids."""
    if os.geteuid() != 0:
        return {}, None, None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return (
            {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []},
            entry.pw_uid,
            (entry.pw_gid),
        )
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(ready: Callable[[], bool], deadline_s: float, what: str) -> None:
    """Wait for ``ready()`` to hold, polling, until the deadline."""
    end = time.monotonic() + deadline_s
    while not ready():
        if time.monotonic() > end:
            raise RuntimeError(f"{what} within {deadline_s} s")
        time.sleep(0.05)


#: Durability off: the data lives as long as the test run.
_TEST_SETTINGS = (
    "fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200",
    "shared_buffers=32MB",
)  # fmt: skip


class PostgresServer:
    """One running server; ``url(database)`` for a client, :meth:`stop` to end it."""

    def __init__(
        self, binaries: Path, folder: Path | None = None, settings: Sequence[str] = ()
    ) -> None:
        """Start a server.

        Args:
            binaries: the folder of ``initdb`` and ``postgres`` (:func:`find_binaries`).
            folder: where its data lives, initialised when empty and kept by :meth:`stop`;
                default: a new temporary folder, removed by :meth:`stop`.
            settings: ``name=value`` server settings after the tests' (the last one wins).
        """
        self._temporary = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix="trackwire-pg-")) if folder is None else folder
        run_as, uid, gid = _user()
        data = self.folder / "data"
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        if not data.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            if uid is not None and gid is not None:
                os.chown(self.folder, uid, gid)
            subprocess.run(
                [str(binaries / "initdb"), "-D", str(data), "-U", "trackwire", "--auth=trust",
                 "-E", "UTF8", "--no-sync", "--locale=C"],
                check=True, capture_output=True, cwd=self.folder, env=env, **run_as,
            )  # fmt: skip
        self.port = _free_port()
        options = [arg for setting in (*_TEST_SETTINGS, *settings) for arg in ("-c", setting)]
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 - the server keeps it
        self.process = subprocess.Popen(
            [str(binaries / "postgres"), "-D", str(data), "-p", str(self.port),
             "-h", "127.0.0.1", "-k", str(self.folder), *options],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.folder, env=env, **run_as,
        )  # fmt: skip
        log.close()
        try:
            _wait(self._accepts, 60.0, "the PostgreSQL server did not accept connections")
        except BaseException:
            self.stop()
            raise

    def _accepts(self) -> bool:
        import psycopg

        if self.process.poll() is not None:
            raise RuntimeError((self.folder / "server.log").read_text()[-2000:])
        try:
            psycopg.connect(self.url("postgres"), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def url(self, database: str = "postgres") -> str:
        """A libpq URL of one database on this server."""
        return f"postgresql://trackwire@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")  # type: ignore[arg-type]
        return self.url(name)

    def emptied(self, url: str) -> str:
        """Empty every table of a collector database (ids start again at 1); its URL.

        Cheaper than a new database for each test: the schema is migrated once.
        """
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'schema_migrations'"
                )
            ]
            if tables:
                conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")  # type: ignore[arg-type]
                conn.execute("ALTER SEQUENCE IF EXISTS amplitude_ids RESTART")
        return url

    def stop(self) -> None:
        """Stop the server by its PID (a fast shutdown) and remove its folder if temporary."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._temporary:
            shutil.rmtree(self.folder, ignore_errors=True)
