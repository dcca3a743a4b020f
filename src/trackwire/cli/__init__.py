"""The ``trackwire`` command: run a collector, look at what it stored, send test events, query.

::

    trackwire collector [--host 127.0.0.1] [--port 8787] [--db .trackwire/collector.db] ...
    trackwire events [--url URL] [--vendor V] [--type T] [--user U] [--event E] [--json]
    trackwire send segment|amplitude|mparticle CALL --host URL ...
    trackwire amplitude export|search|activity|segmentation ...
    trackwire spool status|replay PATH

Each command is a module of this package with a ``register(commands)`` function that adds its
parser; :mod:`trackwire.cli._common` holds what they share (flag types, exit statuses, error
wording). ``send`` and ``events`` talk to a local collector (``http://127.0.0.1:8787``) unless
told otherwise, so a test event never reaches a vendor by accident.

Exit status: 0 done, 1 not delivered (or nothing answered), 2 a usage error, 130 interrupted.
Output cut short by its reader (``trackwire events | head``) ends quietly.

Everything but ``trackwire collector`` needs only trackwire's core dependencies (tables and
charts are plain text); the collector's web stack is imported only when it runs. Nothing under
``trackwire`` imports this package.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from trackwire._version import __version__
from trackwire.cli import amplitude, collector, events, send, spool
from trackwire.cli._common import EXIT_OK, EXIT_USAGE, UsageError, flag_text
from trackwire.errors import ConfigError, TrackwireError, ValidationError

__all__ = ["build_parser", "main"]

#: The commands, in the order ``trackwire --help`` lists them. A new command is a module with
#: ``register(commands)``, added here.
_COMMANDS: Sequence[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = (
    collector.register,
    events.register,
    send.register,
    amplitude.register,
    spool.add_parser,  # the spool module keeps its own name for it
)
#: 128 + SIGPIPE, what a shell reports for a command whose reader went away.
_EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    """The ``trackwire`` argument parser (every command and flag)."""
    parser = argparse.ArgumentParser(
        prog="trackwire",
        description="Run a local collector, look at what it stored, send test events, "
        "query Amplitude's API.",
        epilog="Exit status: 0 done, 1 not delivered, 2 a usage error. "
        "'trackwire COMMAND --help' shows a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"trackwire {__version__}")
    parser.set_defaults(handler=None, command_parser=parser, field_flags={})
    # Not required=True: argparse would then report a missing command before an unknown flag
    # (``trackwire --bogus``); main() asks for the command itself.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _COMMANDS:
        register(commands)
    return parser


def _choices(parser: argparse.ArgumentParser) -> str:
    """``METAVAR (a, b, c)`` of a parser's subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return f"{action.metavar}: {', '.join(action.choices)}"
    return "a subcommand"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``trackwire`` command; returns the exit status (0 ok, 1 not delivered, 2 usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        parser.print_help()
        return EXIT_USAGE
    args, unknown = parser.parse_known_args(argv)
    command_parser: argparse.ArgumentParser = args.command_parser
    if args.command == "collector" and not collector.installed():
        print(f"trackwire collector: {collector.EXTRA_HINT}", file=sys.stderr)
        return EXIT_USAGE
    if unknown:
        command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    handler: Callable[[argparse.Namespace], int] | None = args.handler
    if handler is None:
        command_parser.error(f"choose a {_choices(command_parser)}")
    try:
        status = handler(args)
        sys.stdout.flush()  # here, so that a reader gone away is handled below
        return status
    except UsageError as exc:
        command_parser.error(str(exc))
    except ValidationError as exc:  # a value a client refused: a usage error, named by flag
        command_parser.error(flag_text(exc, args.field_flags))
    except ConfigError as exc:
        if args.command == "collector":  # the collector's own errors, without the usage
            print(f"{command_parser.prog}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        command_parser.error(str(exc))
    except TrackwireError as exc:
        print(f"{command_parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if args.command == "collector" else 1
    except BrokenPipeError:
        # The reader stopped reading (``| head``): point stdout at nothing so that the
        # interpreter's final flush does not fail again, and stop without a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return _EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return 130
    return EXIT_OK  # not reached: parser.error exits


if __name__ == "__main__":
    sys.exit(main())
