"""Runs on disk: the run directories of an experiment, the one-driver lock, the saved
experiment state (written, migrated, compared on resume) and trials read back from files."""
