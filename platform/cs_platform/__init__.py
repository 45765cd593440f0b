"""CS Lakehouse: CS events from the Firehose archive to Iceberg and DocumentDB, orchestrated by Dagster."""
