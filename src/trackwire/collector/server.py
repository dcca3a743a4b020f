"""Running the collector: from the CLI, in a background thread, or as a subprocess.

Three ways, one rule set:

- :func:`serve` runs it in the foreground for ``trackwire collector``: it prints the URL it
  listens on as its first stdout line (so ``--port 0`` is usable from scripts), stops cleanly
  on SIGINT/SIGTERM (requests in flight are finished, then the database is closed) and returns
  the exit status.
- :func:`start_collector` runs it in a daemon thread of the calling process and returns a
  :class:`RunningCollector` with its ``url`` and ``store``: what tests and ``make demo`` use.
- :func:`spawn_collector` starts ``python -m trackwire.cli collector`` as a child process and
  reads the URL from its first line: the real thing, signals included.

Each binds its socket itself before the server starts, so the port is known at once and a
client that connects early waits in the listen backlog instead of being refused. Each calls
:func:`~trackwire.collector.keys.check_bind` first: a collector without keys only listens on
loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Final

import uvicorn

from trackwire.collector._deadlines import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    header_deadline_protocol,
)
from trackwire.collector._gc import serving_gc
from trackwire.collector.app import Collector, create_app
from trackwire.collector.faults import FaultConfig
from trackwire.collector.keys import Keys, check_bind, load_keys
from trackwire.collector.plan import PlanMode, TrackingPlan
from trackwire.collector.store import Store
from trackwire.collector.store_factory import display_url, open_store
from trackwire.errors import ConfigError, TrackwireError

__all__ = [
    "DEFAULT_PORT",
    "CollectorStartError",
    "RunningCollector",
    "SpawnedCollector",
    "serve",
    "spawn_collector",
    "start_collector",
]

logger = logging.getLogger("trackwire.collector")

#: The port ``trackwire collector`` listens on unless told otherwise.
DEFAULT_PORT: Final = 8787
#: Seconds requests in flight get to finish after a stop is asked for.
GRACEFUL_SECONDS: Final = 10


class CollectorStartError(TrackwireError, RuntimeError):
    """The collector could not start (port taken, bad keys file, process died, timeout)."""


def _resolve_keys(keys: Keys | str | os.PathLike[str] | None) -> Keys | None:
    if keys is None or isinstance(keys, Keys):
        return keys
    return load_keys(keys)


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 picks a free one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CollectorStartError(f"cannot resolve {host!r}: {exc}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name == "posix":
            # Lets a restarted collector take its port back while old connections linger.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise CollectorStartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        # A wildcard bind is reachable through loopback; print an address a client can use.
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _config(app: Collector, *, log: bool, header_timeout: float) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        # In-process, leave the host application's logging alone.
        log_config=None if not log else uvicorn.config.LOGGING_CONFIG,
        log_level="warning",
        # The collector writes its own line per request (access.py).
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        http=header_deadline_protocol(header_timeout),
    )


#: ``--log-level`` names.
LOG_LEVELS: Final = ("debug", "info", "warning", "error")


#: The format of the lines :func:`configure_logging` writes.
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _LineFormatter(logging.Formatter):
    """:class:`logging.Formatter` with :data:`LOG_FORMAT`, the same text, its date made once
    per second: at ``info`` the collector writes a line per request from its event loop, and
    ``time.strftime`` was the largest part of formatting one."""

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT)
        self._date: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time as :meth:`logging.Formatter.formatTime` writes it."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second, text = self._date
        if second != int(record.created):
            text = time.strftime(self.default_time_format, self.converter(record.created))
            # One tuple, swapped whole: a racing thread sees an old pair or a new one.
            self._date = (int(record.created), text)
        msec_format = self.default_msec_format
        return text if msec_format is None else msec_format % (text, record.msecs)


def configure_logging(level: str, stream: IO[str]) -> logging.Handler:
    """Send trackwire's log records at ``level`` and above to ``stream``, one line each.

    ``info`` (the CLI's default) shows one line per request and every warning; ``warning``
    shows warnings and errors only.

    Returns:
        The handler added to the ``trackwire`` logger (remove it to undo).

    Raises:
        ConfigError: ``level`` is not one of :data:`LOG_LEVELS`.
    """
    if level not in LOG_LEVELS:
        raise ConfigError(f"log level must be one of {', '.join(LOG_LEVELS)}; got {level!r}")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_LineFormatter())
    root = logging.getLogger("trackwire")
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


class _Server(uvicorn.Server):
    """uvicorn's server, announcing when it is ready and never touching signal handlers.

    The caller decides about signals: :func:`serve` installs its own, and a server in a
    background thread must not handle them at all.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


class RunningCollector:
    """A collector running in a background thread of this process.

    Use it as a context manager, or call :meth:`stop`. Attributes: ``url`` (``http://host:port``,
    no trailing slash), ``host``, ``port``, ``store``, ``app`` (the :class:`Collector`, with its
    ``faults`` injector and ``counters``) and ``db_path``.
    """

    def __init__(
        self, app: Collector, server: _Server, thread: threading.Thread, url: str, own_store: bool
    ) -> None:
        self.app = app
        self.store: Store = app.store
        self.url = url
        host, _, port = url.removeprefix("http://").rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.db_path = app.db_path
        self._server = server
        self._thread = thread
        self._own_store = own_store
        self._stopped = False

    def stop(self, timeout: float = GRACEFUL_SECONDS + 5) -> bool:
        """Stop accepting, let requests in flight finish, then close the store.

        Args:
            timeout: seconds to wait for the server thread; past it, open connections are cut.

        Returns:
            True when the server stopped within ``timeout``.
        """
        if self._stopped:
            return True
        self._stopped = True
        self._server.should_exit = True
        self._thread.join(timeout)
        clean = not self._thread.is_alive()
        if not clean:
            self._server.force_exit = True
            self._thread.join(2.0)
        if self._own_store:
            self.store.close()
        return clean

    def __enter__(self) -> RunningCollector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningCollector(url={self.url!r}, db={self.db_path!r})"


def start_collector(
    db: str | os.PathLike[str] | Store = ":memory:",
    host: str = "127.0.0.1",
    port: int = 0,
    keys: Keys | str | os.PathLike[str] | None = None,
    faults: FaultConfig | None = None,
    *,
    timeout: float = 10.0,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    body_timeout: float | None = DEFAULT_BODY_TIMEOUT,
    plan: TrackingPlan | None = None,
    plan_mode: PlanMode = "record",
) -> RunningCollector:
    """Run a collector in a background thread and return once it serves requests.

    Args:
        db: a database path (``":memory:"`` by default) or an open store (left open on stop).
        host: the address to listen on; without ``keys`` it must be loopback.
        port: the port; 0 picks a free one (read it from ``.url``).
        keys: accepted sources (a :class:`Keys` or a keys-file path); None is development mode.
        faults: faults to inject from the start.
        timeout: seconds to wait for the server to start.
        header_timeout: seconds a connection gets to send a request's headers; then closed.
        body_timeout: seconds a request gets to send its body; then 408 and closed.
        plan: a tracking plan every event is checked against (:mod:`.plan`).
        plan_mode: ``"record"`` (store and list violations) or ``"enforce"`` (refuse them).

    Raises:
        ConfigError: no keys and a non-loopback ``host``, or a bad keys file.
        CollectorStartError: the port cannot be bound or the server did not start in time.
    """
    resolved = _resolve_keys(keys)
    check_bind(host, resolved)
    own_store = isinstance(db, str | os.PathLike)
    store: Store = open_store(db) if isinstance(db, str | os.PathLike) else db
    try:
        sock = _bind(host, port)
    except BaseException:
        if own_store:
            store.close()
        raise
    db_path = display_url(db) if isinstance(db, str | os.PathLike) else ""
    app = create_app(
        store,
        keys=resolved,
        faults=faults,
        db_path=db_path,
        body_timeout=body_timeout,
        plan=plan,
        plan_mode=plan_mode,
    )
    server = _Server(_config(app, log=False, header_timeout=header_timeout))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the starter, or lost with the thread
            failure.append(exc)
        finally:
            sock.close()
            server.ready.set()

    thread = threading.Thread(target=run, name="trackwire-collector", daemon=True)
    thread.start()
    url = _url(sock)
    if resolved is None:
        logger.info("collector %s in development mode: any key is accepted (loopback only)", url)
    if not server.ready.wait(timeout) or failure or not thread.is_alive():
        server.should_exit = True
        thread.join(timeout)
        if own_store:
            store.close()
        reason = f": {failure[0]!r}" if failure else ""
        raise CollectorStartError(f"the collector did not start within {timeout} s{reason}")
    return RunningCollector(app, server, thread, url, own_store)


def serve(
    *,
    db: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    keys: Keys | str | os.PathLike[str] | None = None,
    faults: FaultConfig | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    log_level: str = "info",
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    body_timeout: float | None = DEFAULT_BODY_TIMEOUT,
    plan: TrackingPlan | None = None,
    plan_mode: PlanMode = "record",
) -> int:
    """Run the collector in the foreground until SIGINT or SIGTERM (the CLI's collector).

    The first line written to ``out`` is the URL, then a one-line hint. A stop signal stops
    accepting connections, lets requests in flight finish (up to 10 s), closes the database
    and returns 0. Must run in the main thread (signal handlers). Log lines (one per request at
    ``info``, warnings at ``warning``) go to ``err`` from ``log_level`` up.

    Raises:
        ConfigError: no keys and a non-loopback ``host``, or a bad keys file.
        CollectorStartError: the port cannot be bound.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    resolved = _resolve_keys(keys)
    check_bind(host, resolved)
    try:
        header_deadline_protocol(header_timeout)  # refuse a bad value before opening anything
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    handler = configure_logging(log_level, err)
    try:
        return _serve(
            db,
            host,
            port,
            resolved,
            faults,
            out,
            err,
            header_timeout,
            body_timeout,
            (plan, plan_mode),
        )
    finally:
        logging.getLogger("trackwire").removeHandler(handler)


def _serve(
    db: str | os.PathLike[str],
    host: str,
    port: int,
    resolved: Keys | None,
    faults: FaultConfig | None,
    out: IO[str],
    err: IO[str],
    header_timeout: float,
    body_timeout: float | None,
    checked: tuple[TrackingPlan | None, PlanMode] = (None, "record"),
) -> int:
    plan, plan_mode = checked
    store = open_store(db)
    server: _Server | None = None
    signalled: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        signalled.append(signum)
        if server is not None:
            # A second signal while stopping cuts the connections that are still open.
            server.force_exit = server.should_exit
            server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sock = _bind(host, port)
        app = create_app(
            store,
            keys=resolved,
            faults=faults,
            db_path=display_url(db),
            body_timeout=body_timeout,
            plan=plan,
            plan_mode=plan_mode,
        )
        server = _Server(_config(app, log=True, header_timeout=header_timeout))
        # A signal that came while starting stops the server as soon as it has started.
        server.should_exit = bool(signalled)
        url = _url(sock)
        print(url, file=out, flush=True)
        print(
            f"trackwire collector {url} storing into {display_url(db)}; "
            f"look with: trackwire events --url {url}  (Ctrl+C stops)",
            file=out,
            flush=True,
        )
        if resolved is None:
            print(
                "trackwire collector: development mode, no keys file: any key is accepted "
                "(loopback only); /_faults is enabled",
                file=err,
                flush=True,
            )
        if plan is not None:
            print(
                f"trackwire collector: checking events against {plan.source} "
                f"({len(plan.event_names)} planned events, {plan_mode} mode)",
                file=err,
                flush=True,
            )
        if faults is not None and faults.active:
            print(f"trackwire collector: injecting faults {faults.to_json()}", file=err, flush=True)
        try:
            # This process is the collector's own: tune its garbage collector (see _gc.py).
            with serving_gc():
                asyncio.run(server.serve(sockets=[sock]))
        finally:
            sock.close()
    finally:
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


class SpawnedCollector:
    """A collector running as a child process (see :func:`spawn_collector`).

    Attributes:
        url: the URL the child printed.
        process: the :class:`subprocess.Popen` object.
    """

    def __init__(
        self,
        process: subprocess.Popen[str],
        url: str,
        stdout: queue.Queue[str],
        stderr: queue.Queue[str],
    ) -> None:
        self.process = process
        self.url = url
        self._streams = (stdout, stderr)

    def stop(self, timeout: float = GRACEFUL_SECONDS + 5) -> int:
        """Send SIGTERM and wait for the exit status (the process is killed after ``timeout``)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def output(self) -> list[str]:
        """Lines the child wrote since the URL and not read yet: stdout's, then stderr's."""
        lines = []
        for stream in self._streams:
            with contextlib.suppress(queue.Empty):
                while True:
                    line = stream.get_nowait()
                    if line:
                        lines.append(line)
        return lines

    def __enter__(self) -> SpawnedCollector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put("")  # end of stream marker: one per stream


def spawn_collector(
    db: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    keys: str | os.PathLike[str] | None = None,
    faults: FaultConfig | None = None,
    *,
    python: str | None = None,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> SpawnedCollector:
    """Start ``python -m trackwire.cli collector`` as a child process and return its URL.

    Args:
        db: the database path.
        host: the address to listen on.
        port: the port; 0 picks a free one.
        keys: a keys-file path, or None for development mode.
        faults: faults to inject, passed as ``--fault-*`` flags.
        python: the interpreter; default the current one.
        extra_args: more CLI arguments.
        env: the child's environment; default this process's.
        timeout: seconds to wait for the URL line.

    Raises:
        CollectorStartError: the child exited or printed nothing within ``timeout``; the
            message carries what it printed.
    """
    command = [python or sys.executable, "-m", "trackwire.cli", "collector"]
    command += ["--host", host, "--port", str(port), "--db", os.fspath(db)]
    if keys is not None:
        command += ["--keys", os.fspath(keys)]
    if faults is not None:
        command += faults.to_arguments()
    command += list(extra_args)
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env=env,
        cwd=Path.cwd(),
    )
    assert process.stdout is not None and process.stderr is not None
    stdout: queue.Queue[str] = queue.Queue()
    rest: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, stdout), daemon=True).start()
    threading.Thread(target=_pump, args=(process.stderr, rest), daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        first = stdout.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        first = ""
    if not first.startswith("http"):
        if process.poll() is None:
            process.kill()
        process.wait()
        said = [first] if first else []
        # The process has exited: its stderr ends soon with the end-of-stream marker "".
        with contextlib.suppress(queue.Empty):
            while line := rest.get(timeout=2.0):
                said.append(line)
        text = "\n".join(line for line in said if line)
        raise CollectorStartError(f"the collector process did not start: {text or 'no output'}")

    return SpawnedCollector(process, first.strip(), stdout, rest)
