"""Models: networks, head training, the classical baseline, model cards, the registry."""
