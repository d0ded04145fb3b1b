"""The `odedsl` command line: one function per command, registered in ``_COMMANDS``.

Exit codes: 0 success, 1 a spec (or a run) failed, 2 a usage error (argparse's own).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from odedsl import __version__
from odedsl.cli_export import add_export
from odedsl.cli_predict import PREDICT_COMMANDS
from odedsl.cli_runs import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, RUN_COMMANDS, UsageError


def _add_check(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "check",
        help="check specs and summarise them",
        description="Parse and check each spec; print a summary of each valid one, and every "
        "error of the others (to stderr). Exit 1 if any spec has an error.",
    )
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="a .ode spec file")
    parser.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    from odedsl.errors import SpecError
    from odedsl.lang import check_source, load_source
    from odedsl.lang.diagnostics import render
    from odedsl.lang.summary import summarize

    failed = False
    for index, path in enumerate(args.specs):
        try:
            source = load_source(Path(path))
            model = check_source(source)
        except SpecError as error:
            failed = True
            print(error.rendered or str(error), file=sys.stderr)
            continue
        if model.warnings:
            print(render(model.warnings, source), file=sys.stderr)
        if index:
            print()
        print(summarize(model))
    return 1 if failed else 0


_COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_check,
    *RUN_COMMANDS,
    *PREDICT_COMMANDS,
    add_export,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="odedsl",
        description="odedsl: neural ODE models written as .ode specs, compiled to PyTorch.",
    )
    parser.add_argument("--version", action="version", version=f"odedsl {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        return code
    except UsageError as error:
        print(f"odedsl: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("odedsl: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`odedsl show spec --code | head`): stop quietly, as Unix tools
        # do, and keep the interpreter's final flush from failing on the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as error:
        return _report(error)


def _report(error: Exception) -> int:
    """One clear message for an error the user can fix (exit 1); a bug keeps its traceback."""
    from odedsl.errors import OdedslError, SpecError
    from odedsl.training.errors import RunError

    if isinstance(error, SpecError):
        print(error.rendered or str(error), file=sys.stderr)
        return 1
    if isinstance(error, RunError):  # worded for the command line; 130 when interrupted
        kind = "error: " if error.exit_status == 1 else ""
        print(f"odedsl: {kind}{error.command}", file=sys.stderr)
        return error.exit_status
    if isinstance(error, OdedslError | ValueError | OSError):
        print(f"odedsl: error: {error}", file=sys.stderr)
        return 1
    raise error


if __name__ == "__main__":
    sys.exit(main())
