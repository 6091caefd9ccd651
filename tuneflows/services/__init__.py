"""Services a run starts or attaches to: the Prefect API (a local server with its UI or
Prefect's ephemeral one), the orphan guard of child processes, process defaults applied
before the engines import, and the start-up timeline."""

from tuneflows.services.process_defaults import apply_defaults

apply_defaults()  # before any engine loads
