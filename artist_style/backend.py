"""Keras on TensorFlow, imported once without TensorFlow's native start-up lines.

TensorFlow's C++ libraries write lines such as "failed call to cuInit: INTERNAL: CUDA error" and "Could not
find cuda drivers" to stderr while it loads and probes for a GPU, whatever TF_CPP_MIN_LOG_LEVEL says. On a
CPU-only machine they are expected and alarm users of every stage and of predict. The import and the probe
run with stderr captured; the lines matching NOISE are dropped and every other line is written back, so a
real problem still shows. TF_CPP_MIN_LOG_LEVEL=0 in the environment keeps them all.
Modules that need Keras import it from here: `from artist_style.backend import keras`.
"""
import os
import re
import sys
import tempfile
from contextlib import contextmanager

NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|port\.cc:\d+\] oneDNN custom operations are on"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cuda_platform\.cc:\d+\] failed call to cuInit")


@contextmanager
def filtered_stderr(pattern=NOISE):
    """Capture what is written to file descriptor 2 (native code included) in the block; afterwards write
    back every line that does not match `pattern`. Without a temporary file, nothing is captured.
    (Importing artist_style has made sure descriptor 2 and sys.stderr exist: errors.guard_standard_streams.)"""
    sys.stderr.flush()
    try:
        log = tempfile.TemporaryFile()
    except OSError:  # no writable temporary folder: keep the lines rather than fail
        yield
        return
    saved = os.dup(2)
    with log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            lines = log.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not pattern.search(line)))
            sys.stderr.flush()


def _import():
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        import keras
        return keras
    with filtered_stderr():
        import keras
        import tensorflow as tf
        tf.config.list_physical_devices()  # the GPU probe logs here, not at the first operation
    return keras


keras = _import()
