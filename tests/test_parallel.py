"""parallel_map and Ctrl-C: a Ctrl-C while the worker pool starts must stop the parent, not vanish."""
import subprocess
import sys

from conftest import ROOT, ctrl_c_as_in_a_terminal

SCRIPT = '''
import os, signal, time
import multiprocessing.pool
from artist_style import parallel

start = multiprocessing.pool.Pool.__init__

def start_then_ctrl_c(self, *args, **kwargs):  # Ctrl-C arrives while parallel_map is starting the pool
    start(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.5)

if __name__ == "__main__":
    multiprocessing.pool.Pool.__init__ = start_then_ctrl_c
    try:
        print(sum(parallel.parallel_map(abs, list(range(-50, 50)), workers=2)))
    except KeyboardInterrupt:
        print("interrupted")
'''


def test_ctrl_c_while_the_pool_starts_stops_the_parent(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          preexec_fn=ctrl_c_as_in_a_terminal)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "interrupted", done.stdout + done.stderr
    assert "Traceback" not in done.stderr  # the workers stay quiet
