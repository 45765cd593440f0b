"""Spark jobs run away from Dagster (EMR Serverless), reporting back through dagster-aws Pipes.

``emr_serverless`` builds the job-run request; ``stream_job`` is an entry point EMR runs. The
entry points call the same code as the local path (``cs_platform.streaming``), so a job behaves
alike wherever it runs; only where Spark lives and how the results reach Dagster differ.
"""
