"""Evaluation: scoring, evaluate, plots, Grad-CAM explanations, the report."""
