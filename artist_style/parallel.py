"""fn over items in worker processes, in order, with a progress bar."""
from multiprocessing import get_context

from tqdm import tqdm


def parallel_map(fn, items, workers=1, desc=None, chunksize=8):
    """fn over items in order, in `workers` processes, with a progress bar on stderr."""
    bar = dict(total=len(items), desc=desc, unit="img", disable=False, mininterval=2.0)
    if workers <= 1 or len(items) < 2 * chunksize:
        yield from tqdm(map(fn, items), **bar)
        return
    with get_context("spawn").Pool(workers) as pool:
        yield from tqdm(pool.imap(fn, items, chunksize=chunksize), **bar)
