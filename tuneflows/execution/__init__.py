"""Execution on Ray: trial actors, the function-trainable thread, pinned objects."""

from tuneflows.services.process_defaults import apply_defaults

apply_defaults()  # before any engine loads
