"""Pipeline stages: each module is one DVC stage, run as `python -m stages.<name>`."""
