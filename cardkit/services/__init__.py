"""Use cases that combine the layers (and do the I/O the pure layers avoid)."""
