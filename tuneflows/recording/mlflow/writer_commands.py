"""The command protocol between the driver and its MLflow writer processes: each
command is ``(command, experiment key, args, wants_reply)`` on a pipe; the child
answers ``(REPLY, ok, value)`` when a reply is wanted, and reports each trial run it
creates (or finds, for a resumed trial) as ``(RUN_CREATED, experiment key, trial id, run
id)``. Defined once here, for the driver's
side (:mod:`~tuneflows.recording.mlflow.writer_process`,
:mod:`~tuneflows.recording.mlflow.writer_pool`) and the child's
(:mod:`~tuneflows.recording.mlflow.writer_child`).

Example:
    >>> WriterCommand("log_results") in BATCHER_COMMANDS
    True
    >>> WriterCommand("drop_tables")
    Traceback (most recent call last):
    ...
    ValueError: 'drop_tables' is not a valid WriterCommand
"""

from __future__ import annotations

from tuneflows.model.codes import Code


#: The kinds of message a writer sends back: a request's reply, a trial run's id.
REPLY, RUN_CREATED = "reply", "run"


class WriterCommand(Code):
    """A command an MLflow writer process takes."""

    #: Open (and, if new, create) an experiment's store in the background.
    PREPARE = "prepare"
    #: Reply once every earlier command is handled.
    SYNC = "sync"
    #: Create or reopen the experiment's parent run (or attach to another writer's).
    OPEN = "open"
    #: End the parent run and close the experiment; reply with what MLflow missed.
    END_EXPERIMENT = "end_experiment"
    #: Close the experiment in a helper writer (the primary ends the parent run).
    CLOSE_EXPERIMENT = "close_experiment"
    #: What a closed helper writer could not record.
    LOST_RECORDS = "lost_records"
    # The records of an open experiment, handled by its MlflowBatcher's method of the name.
    START_TRIAL = "start_trial"
    LOG_RESULTS = "log_results"
    SET_TAGS = "set_tags"
    LOG_ARTIFACTS = "log_artifacts"
    BACKFILL = "backfill"
    REOPEN_TRIAL = "reopen_trial"
    END_TRIAL = "end_trial"
    LOG_PARENT = "log_parent"


#: The commands an open experiment's MlflowBatcher carries out (by its method's name).
BATCHER_COMMANDS = frozenset({
    WriterCommand.START_TRIAL, WriterCommand.LOG_RESULTS, WriterCommand.SET_TAGS,
    WriterCommand.LOG_ARTIFACTS, WriterCommand.BACKFILL, WriterCommand.REOPEN_TRIAL,
    WriterCommand.END_TRIAL, WriterCommand.LOG_PARENT,
})
