"""User-facing errors and the way every command reports them: one line, no traceback."""
import argparse
import sys


class UserError(Exception):
    """A problem with the user's data or params: reported as one line, no traceback."""


def run(main):
    """Run a command's main(); a UserError becomes one line on stderr and exit status 2."""
    try:
        code = main()
    except UserError as err:
        _close_progress_bars()
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        _close_progress_bars()
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def _close_progress_bars():
    """End any progress bar left open by the error, so the message starts on its own line."""
    if "tqdm" in sys.modules:
        from tqdm import tqdm
        for bar in list(getattr(tqdm, "_instances", ())):
            bar.close()


def stage_args(doc, *paths, positional=(), many=()):
    """Parse a stage's command line: every path is a required --option (dvc.yaml passes them all,
    so there are no defaults to disagree with it); options in `many` take one or more paths."""
    parser = argparse.ArgumentParser(description=doc)
    for name in positional:
        parser.add_argument(name)
    for name in paths:
        parser.add_argument(f"--{name}", required=True)
    for name in many:
        parser.add_argument(f"--{name}", required=True, nargs="+")
    return parser.parse_args()
