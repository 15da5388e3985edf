"""fn over items in worker processes, in order, with a progress bar.

Ctrl-C reaches every process of the terminal's process group; the workers ignore it (they start with
SIGINT ignored, before Python could turn it into a KeyboardInterrupt and print a traceback), so only
the parent stops: it terminates the pool, and `errors.run` prints one line and exits 130.
"""
import signal
import threading
from multiprocessing import get_context

from tqdm import tqdm


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def parallel_map(fn, items, workers=1, desc=None, chunksize=8):
    """fn over items in order, in `workers` processes, with a progress bar on stderr."""
    bar = dict(total=len(items), desc=desc, unit="img", disable=False, mininterval=2.0)
    if workers <= 1 or len(items) < 2 * chunksize:
        yield from tqdm(map(fn, items), **bar)
        return
    main = threading.current_thread() is threading.main_thread()  # only it may set signal handlers
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None  # inherited by the workers
    try:
        pool = get_context("spawn").Pool(workers, initializer=_ignore_sigint)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
    with pool:
        yield from tqdm(pool.imap(fn, items, chunksize=chunksize), **bar)
