"""The ``priors`` subcommands, one module each (``pipeline.cli`` registers them)."""
