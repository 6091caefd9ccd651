"""Ray Tune 1.x/2.x's interfaces on tuneflows' engine: ``tuneflows.run`` (``tune.run``,
0.7 to 1.x, still in Ray 2) returning an ExperimentAnalysis, and Ray 2's ``Tuner`` with
``TuneConfig``, ``RunConfig`` and a ``ResultGrid``. A thin layer: each builds an
:class:`~tuneflows.spec.Experiment` and calls ``run_experiments``.

Modules: ``arguments`` (what each argument of those eras becomes, and the refused ones
with why), ``configs`` (the config dataclasses), ``launch`` (the one call into the
engine), ``run`` (``tuneflows.run``), ``tuner`` (``Tuner``), ``result_grid``
(``ResultGrid``, ``Result``), ``wrappers`` (``with_parameters``, ``with_resources``),
``spec_styles`` (YAML specs in tune.run's and the Tuner's shapes).
"""

from tuneflows.services.process_defaults import apply_defaults

apply_defaults()  # before any engine loads (the Tuner reads Ray's pickles)
