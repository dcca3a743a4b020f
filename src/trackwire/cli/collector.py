"""``trackwire collector``: run the local collector in the foreground.

The collector's web stack is the ``collector`` extra. On a core install ``--help`` still
describes the command, and running it says in one line which extra to install.
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from trackwire.cli._common import DEFAULT_DB, UsageError, add_command, port_flag, positive
from trackwire.errors import ConfigError

__all__ = ["EXTRA_HINT", "installed", "register"]

#: The one line ``trackwire collector`` prints on a core install.
EXTRA_HINT: Final = "the collector needs the collector extra: pip install 'trackwire[collector]'"
#: Modules the collector cannot run without (all in the ``collector`` extra).
_MODULES: Final = ("starlette", "uvicorn", "anyio")
#: The fault flags: flag -> (FaultConfig field, argparse dest).
_FAULT_FLAGS: Final = {
    "--fault-rate": ("failure_rate", "fault_rate"),
    "--fault-rate-status": ("failure_status", "fault_rate_status"),
    "--fault-drop-rate": ("drop_rate", "fault_drop_rate"),
    "--fault-latency": ("latency", "fault_latency"),
    "--fault-retry-after": ("retry_after", "fault_retry_after"),
    "--fault-seed": ("seed", "fault_seed"),
}


def installed() -> bool:
    """True when the collector extra is importable (checked without importing it)."""
    from importlib.util import find_spec

    for name in _MODULES:
        try:
            if find_spec(name) is None:
                return False
        except (ImportError, ValueError):  # a broken or blocked install counts as missing
            return False
    return True


def _faults(args: argparse.Namespace) -> Any:
    """The FaultConfig the ``--fault-*`` flags describe; a bad value is a usage error naming
    its flag (each flag is checked on its own, so the error is known to be that flag's)."""
    from trackwire.collector.faults import FaultConfig, fault_config_from_arguments

    for flag, (name, dest) in _FAULT_FLAGS.items():
        try:
            FaultConfig(**{name: getattr(args, dest)})
        except ConfigError as exc:
            text = str(exc).removeprefix(f"{name}: ").removeprefix(f"{name} ")
            raise UsageError(f"{flag}: {text}") from None
    try:
        return fault_config_from_arguments(args)
    except ConfigError as exc:  # the only flag left: the status sequences
        text = str(exc).removeprefix("fault statuses: ")
        raise UsageError(f"--fault-status: {text}") from None


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; returns the exit status."""
    from trackwire.collector.plan import load_plan
    from trackwire.collector.server import serve

    plan = None if args.plan is None else load_plan(args.plan)
    return serve(
        db=args.db,
        host=args.host,
        port=args.port,
        keys=args.keys,
        faults=_faults(args),
        log_level=args.log_level,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        plan=plan,
        plan_mode=args.plan_mode,
    )


def register(commands: Any) -> None:
    """Add ``collector`` to the ``trackwire`` parser."""
    here = installed()
    parser = add_command(
        commands,
        "collector",
        "run a local collector for the Segment, Amplitude and mParticle APIs"
        + ("" if here else f" ({EXTRA_HINT})"),
        run,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=port_flag,
        default=8787,
        help="port, 0-65535 (default 8787; 0 picks a free one)",
    )
    parser.add_argument(
        "--db",
        default=DEFAULT_DB,
        help=f"SQLite file, sqlite:///PATH or postgresql://USER@HOST/DB (default {DEFAULT_DB})",
    )
    parser.add_argument(
        "--keys",
        help="keys file listing the accepted sources (JSON); without it any key is accepted, "
        "on loopback only",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="stderr logging: info (default) logs one line per request and every warning; "
        "warning logs warnings and errors only",
    )
    parser.add_argument(
        "--header-timeout",
        type=positive(float),
        default=10.0,
        metavar="SECONDS",
        help="close a connection that has not sent its request headers within this time "
        "(default 10)",
    )
    parser.add_argument(
        "--body-timeout",
        type=positive(float),
        default=60.0,
        metavar="SECONDS",
        help="answer 408 and close when a request body has not arrived within this time "
        "(default 60)",
    )
    parser.add_argument(
        "--plan",
        metavar="FILE",
        help="tracking plan (JSON or YAML) every event is checked against; violations are "
        "listed by /events and /_test/violations",
    )
    parser.add_argument(
        "--plan-mode",
        choices=("record", "enforce"),
        default="record",
        help="record (default): store events breaking the plan, list why; enforce: keep them "
        "out of the store (see /_test/bad)",
    )
    if here:  # the fault flags live with the collector, in the extra
        from trackwire.collector.faults import add_fault_arguments

        add_fault_arguments(parser)
