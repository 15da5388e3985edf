"""fn over items in worker processes, in order, with a progress bar.

Ctrl-C reaches every process of the terminal's process group; the workers ignore it (they start with
SIGINT ignored, before Python could turn it into a KeyboardInterrupt and print a traceback), so only
the parent stops: it terminates the pool, and `errors.run` prints one line and exits 130. While the
parent starts the pool (with SIGINT ignored, for the workers to inherit) it also blocks SIGINT: on
Linux a blocked signal stays pending even when ignored, so a Ctrl-C in that window stops the parent
as soon as its handler is back, instead of being lost. A SIGTERM in that window (which `errors.run` turns
into an unwinding exit) is held until the pool has started too: stopped halfway through starting a worker,
the parent would leave it to fail reading its start-up data, with a traceback.
"""
import signal
import threading
from multiprocessing import get_context, resource_tracker

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
    if main:
        resource_tracker.ensure_running()  # started later, it would unblock SIGINT in the parent
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the workers
        held = []
        previous_term = signal.signal(signal.SIGTERM, lambda signum, frame: held.append(signum))

    def restore():  # a Ctrl-C or SIGTERM that came while the pool started is raised here
        if main:
            signal.signal(signal.SIGINT, previous)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            signal.signal(signal.SIGTERM, previous_term)
            if held:
                held.clear()
                signal.raise_signal(signal.SIGTERM)

    try:
        with get_context("spawn").Pool(workers, initializer=_ignore_sigint) as pool:  # terminated on leaving
            restore()
            yield from tqdm(pool.imap(fn, items, chunksize=chunksize), **bar)
    finally:
        restore()
