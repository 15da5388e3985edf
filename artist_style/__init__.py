"""Is this picture in that artist's style? The library behind the DVC stages in stages/.

- artist_style.data: sources, image decoding, ingest, splits, processed pixels, backbone features
- artist_style.models: networks, head training, the classical baseline, model cards, the registry
- artist_style.evaluation: scoring, evaluation, plots, Grad-CAM explanations, the report
- artist_style.predict: the user command (also the `artist-predict` console script)

Importing the package sets the environment TensorFlow and Keras read when they are first imported,
so it must happen before `import keras` (stages import it first; see stages/__init__.py). It also makes
a Ctrl-C while the rest is still being imported end in one word, not a traceback (errors.quiet_interrupt),
and a closed stdout or stderr harmless (errors.guard_standard_streams).
"""
import os
import sys

from artist_style.errors import guard_standard_streams, quiet_interrupt

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.excepthook = quiet_interrupt
guard_standard_streams()
