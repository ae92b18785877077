"""argparse for every command line of the project: an error is one line, `<prog>: error: <what>` on stderr,
exit 2, never argparse's usage block (`--help` still prints the full help)."""
from __future__ import annotations

import argparse
import math
import sys


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def parse(ap: argparse.ArgumentParser, argv: list[str]) -> tuple[argparse.Namespace | None, int]:
    """(args, 0), or (None, exit code) after an error or --help, for commands that return their code."""
    try:
        return ap.parse_args(argv), 0
    except SystemExit as exc:
        return None, exc.code if isinstance(exc.code, int) else 2


def int_at_least(least: int):
    """An argparse type: an integer >= least (argparse names the option: `argument --limit: must be ...`)."""
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(f"must be an integer >= {least}, not {text!r}")
        return value
    return convert


def finite_at_least(lo: float):
    """An argparse type: a finite float >= lo (nan and inf are refused, as a tolerance or a limit means nothing
    then)."""
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= lo):
            raise argparse.ArgumentTypeError(f"must be a finite number >= {lo:g}, not {text!r}")
        return value
    return convert
