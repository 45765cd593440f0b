"""Spark jobs run away from Dagster (EMR Serverless), reporting back through dagster-aws Pipes.

``emr_serverless`` builds the job-run request; the ``*_job`` modules are the entry points EMR runs
(the stream, the repairs, the Spark checks, a maintenance step, a migration action). They call the
same code as the local ops (``cs_platform.streaming``, ``cs_platform.lakehouse``), so a job behaves
alike wherever it runs; only where Spark lives and how the results reach Dagster differ.
"""
