"""The ``priors`` subcommands, one module each (``pipeline.cli`` registers them)."""

CACHE_HELP = (
    "cache root: a path, or a URI of any file system pyarrow can write (s3://bucket/prefix); "
    "default $GROUNDWORK_CACHE, else ~/.cache/groundwork"
)
