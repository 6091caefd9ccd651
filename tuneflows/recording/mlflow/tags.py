"""Every MLflow tag name tuneflows writes or reads, in one place: on the parent run of
an experiment's run, on each trial's nested run, and on a final model's run and
versions; and the names of MLflow's own tags it sets.

Example:
    >>> OUTCOME, METRIC, PARENT_RUN_ID
    ('outcome', 'tuneflows.metric', 'mlflow.parentRunId')
"""

# ------------------------------------------------------------------ a trial's nested run
TRIAL_ID = "trial_id"
#: The trial's status (TERMINATED, ERROR, or KILLED when the experiment ended first).
STATUS = "status"
#: How the trial ended: completed, stopped-early, errored, unfinished.
OUTCOME = "outcome"
#: Why it ended, in words.
STOP_REASON = "stop_reason"
#: The scheduler that stopped it early.
STOP_RULE = "stop_rule"
#: The last line of the trial's error.
ERROR = "error"
#: The trial's experiment tag (its name's suffix) and its directory.
EXPERIMENT_TAG, TRIAL_LOGDIR = "experiment_tag", "logdir"
#: Why a run was ended KILLED (the driver was stopped).
KILLED_BECAUSE = "tuneflows.killed_because"

# ------------------------------------------------------------------ the parent run
#: The experiment's id (the parent run's and its trials').
EXPERIMENT_ID = "tuneflows.experiment_id"
#: The run of the experiment (its run directory's name).
RUN_ID = "tuneflows.run_id"
SCHEDULER, SEARCHER = "tuneflows.scheduler", "tuneflows.searcher"
LOGDIR = "tuneflows.logdir"
#: What trials are judged by.
METRIC, MODE = "tuneflows.metric", "tuneflows.mode"
#: Where a warm start began: the previous parent run and how many trials it taught.
WARM_START_RUN = "tuneflows.warm_start.parent_run_id"
WARM_START_TRIALS = "tuneflows.warm_start.trials"
#: The run directory a ``tuneflows sync-mlflow`` replayed.
SYNCED_FROM = "tuneflows.synced_from"
#: The dataset a deployment's spec tuned on.
DATASET, DATASET_PATH = "tuneflows.dataset", "tuneflows.dataset.path"
#: The experiment's Prefect flow run: its id and its page on the Prefect UI.
FLOW_RUN_ID, FLOW_RUN_URL = "tuneflows.prefect.flow_run_id", "tuneflows.prefect.flow_run_url"

# ------------------------------------------------------------------ a final model
HELD_OUT_METRIC = "tuneflows.held_out.metric"
HELD_OUT_VALUE = "tuneflows.held_out.value"
HELD_OUT_MODE = "tuneflows.held_out.mode"
#: The tuning that chose the model's config: its parent run, experiment and best trial.
TUNING_RUN = "tuneflows.tuning_run_id"
TUNING_EXPERIMENT = "tuneflows.tuning_experiment_id"
BEST_TRIAL_ID = "tuneflows.best_trial_id"

# ------------------------------------------------------------------ MLflow's own
#: A run's description, shown on its page.
DESCRIPTION = "mlflow.note.content"
PARENT_RUN_ID = "mlflow.parentRunId"
#: An experiment's kind: MLflow 3 opens the model-training view for custom_model_development.
EXPERIMENT_KIND = "mlflow.experimentKind"
