"""Execution on Ray: trial actors, the function-trainable thread, pinned objects."""
