"""Data: sources, images, ingest, splits, processed pixels and backbone features."""
