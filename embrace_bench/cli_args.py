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


def _checked(convert, ok, what: str):
    """An argparse type: `convert(text)` when `ok` of it, else the one-line `must be <what>, not '<text>'` (argparse
    puts the option's name in front)."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
        return value
    return parse


def int_at_least(least: int):
    """An integer >= least."""
    return _checked(int, lambda v: v >= least, f"an integer >= {least}")


def finite_at_least(lo: float):
    """A finite float >= lo (nan and inf are refused, as a tolerance or a limit means nothing then)."""
    return _checked(float, lambda v: math.isfinite(v) and v >= lo, f"a finite number >= {lo:g}")


def fraction(lo_open: bool = False):
    """A number in [0, 1], or (0, 1] with `lo_open` (nan refused)."""
    return _checked(float, lambda v: (v > 0 if lo_open else v >= 0) and v <= 1,
                    f"a number in {'(0' if lo_open else '[0'}, 1]")
