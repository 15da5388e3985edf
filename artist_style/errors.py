"""User-facing errors and the way every command reports them: one line, no traceback."""
import argparse
import os
import signal
import sys


class UserError(Exception):
    """A problem with the user's data or params: reported as one line, no traceback."""


def first_line(err):
    """An exception's message cut to its first line (at most 200 characters), for a one-line error."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


class Terminated(BaseException):
    """SIGTERM (kill, a timeout), raised where the command is, so that it unwinds as after Ctrl-C."""


def _terminated(signum, frame):
    raise Terminated


def _interruption(err):
    """The KeyboardInterrupt or Terminated behind `err`, or None. Python 3.11 turns one raised while a class
    is made (in a descriptor's __set_name__: a library's import, say) into the cause of a RuntimeError."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, (KeyboardInterrupt, Terminated)):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def quiet_interrupt(kind, value, tb, previous=sys.excepthook):
    """sys.excepthook: a Ctrl-C that reaches the top level outside run() (while a command's modules are
    still being imported) ends it as run() does, with one word and exit 130, not a traceback."""
    if not isinstance(_interruption(value), KeyboardInterrupt):
        return previous(kind, value, tb)
    _close_progress_bars()
    print("interrupted", file=sys.stderr, flush=True)
    os._exit(130)  # now, as nothing has started yet; a second error while Python shuts down would be noise


def guard_standard_streams():
    """For a command started with stdin, stdout or stderr closed (`2>&-`): put /dev/null on the descriptor,
    so that no file opened later becomes descriptor 2 and receives TensorFlow's native log lines, and let
    messages for a closed stderr go nowhere instead of failing (sys.stdout stays None: predict refuses it)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one, as those below are open
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")


def run(main):
    """Run a command's main(); a UserError becomes one line on stderr and exit status 2. Ctrl-C and SIGTERM
    unwind it (temporary files are removed), then print one word: exit 130 and 143."""
    signal.signal(signal.SIGTERM, _terminated)
    try:
        code = main()
        if sys.stdout is not None:  # None: started with stdout closed
            sys.stdout.flush()  # a closed pipe shows here, not as a traceback when Python exits
    except UserError as err:
        _close_progress_bars()
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, Terminated, RuntimeError) as err:
        stop = _interruption(err)
        if stop is None:
            raise
        _close_progress_bars()
        interrupted = isinstance(stop, KeyboardInterrupt)
        print("interrupted" if interrupted else "terminated", file=sys.stderr)
        sys.exit(130 if interrupted else 143)
    except BrokenPipeError:  # the reader of our output left (| head): stop quietly, as other commands do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        sys.exit(1)
    sys.exit(code or 0)


def _close_progress_bars():
    """End any progress bar left open by the error, so the message starts on its own line."""
    if "tqdm" in sys.modules:
        from tqdm import tqdm
        for bar in list(getattr(tqdm, "_instances", ())):
            bar.close()


def stage_args(doc, *paths, positional=(), many=(), card_files=None):
    """Parse a stage's command line: every path is a required --option (dvc.yaml passes them all,
    so there are no defaults to disagree with it); options in `many` take one or more paths. No two
    paths may overlap (files.refuse_overlaps), counting the files card_files(path) says go with one."""
    parser = argparse.ArgumentParser(description=doc)
    for name in positional:
        parser.add_argument(name)
    for name in paths:
        parser.add_argument(f"--{name}", required=True)
    for name in many:
        parser.add_argument(f"--{name}", required=True, nargs="+")
    args = parser.parse_args()
    from artist_style.files import refuse_overlaps
    given = ([(f"--{name}", getattr(args, name.replace("-", "_"))) for name in paths]
             + [(f"--{name}", path) for name in many for path in getattr(args, name.replace("-", "_"))])
    refuse_overlaps(given + [(f"{option}'s card file", file) for option, path in given
                             for file in (card_files(path) if card_files else [])])
    return args
