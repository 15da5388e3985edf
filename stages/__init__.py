"""DVC stage entry points, one module per stage in dvc.yaml: each reads params.yaml and the paths its
command line passes, and calls the library (artist_style)."""
import artist_style  # noqa: F401  (sets TensorFlow's environment before anything imports keras)
