"""Command-line mistakes as one line: the flag, the value, what is allowed.

Every script of the recipes (`main`, `grid`, `report`, `figure1`) reports
a usage error as one line on stderr and exits with status 2, before any
work, never with absl's help text or a traceback. A warning (a damaged
file set aside, a damaged results file skipped) is one line too:
`one_line_warnings`.
"""

import sys
import warnings

from absl import flags

USAGE_ERROR_STATUS = 2


class UsageError(ValueError):
    """A command-line mistake; its message is the one line to print."""


def usage_error(program, message):
    """Prints `program: message` as one line on stderr and exits with status 2."""
    print(f"{program}: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(USAGE_ERROR_STATUS)


def _format_warning(message, category, filename, lineno, line=None):
    return f"{category.__name__}: {' '.join(str(message).split())}\n"


def one_line_warnings():
    """Prints every Python warning as one line, `Category: message`, without its source line."""
    warnings.formatwarning = _format_warning


def flags_parser(program, flag_values=flags.FLAGS):
    """An `absl.app.run(flags_parser=...)` that reports mistakes in one line.

    A value that does not parse (`--num_draws=abc`), an unknown flag or a
    positional argument stops with `usage_error`.
    """

    def parse(argv):
        one_line_warnings()
        try:
            remaining = flag_values(argv)
        except flags.Error as error:
            usage_error(program, error)
        if len(remaining) > 1:
            usage_error(program, f"unexpected arguments: {' '.join(remaining[1:])}")
        return remaining

    return parse
