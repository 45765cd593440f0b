"""EMR Serverless settings and job-run requests: fail fast naming the variable; no secret leaves."""

import pytest

from cs_platform.remote.emr_serverless import job_run_params
from cs_platform.settings import SettingsError, load_settings

_EMR = {"CSP_COMPUTE": "emr-serverless", "CSP_EMR_APPLICATION_ID": "00fabc123",
        "CSP_EMR_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/cs-emr", "CSP_EMR_CODE_URI": "s3://code/cs/v1/"}
_PROD = {"CSP_PROFILE": "prod", "CSP_LANDING_URI": "s3://raw/firehose", "CSP_WAREHOUSE_URI": "s3://lake/w",
         "CSP_CHECKPOINT_URI": "s3://lake/checkpoints", "CSP_CATALOG_URI": "postgresql+psycopg://lake@rds:5432/iceberg",
         "CSP_DOCUMENTDB_URI": "mongodb://docdb:27017", "CSP_DOCUMENTDB_TLS_CA_FILE": "/etc/cs/rds-ca.pem"}
_SECRETS = {"CSP_CATALOG_PASSWORD": "pw-catalog", "CSP_DOCUMENTDB_PASSWORD": "pw-docdb",
            "CSP_ALERT_WEBHOOK_URL": "https://hooks.invalid/secret"}


@pytest.fixture
def env(monkeypatch, tmp_path):
    for var in (*_EMR, *_PROD, *_SECRETS, "CSP_SPARK_PACKAGES", "CSP_EMR_SPARK_SUBMIT_PARAMETERS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CSP_HOME", str(tmp_path / "home"))
    return monkeypatch


@pytest.mark.parametrize("missing", ["CSP_EMR_APPLICATION_ID", "CSP_EMR_EXECUTION_ROLE_ARN", "CSP_EMR_CODE_URI"])
def test_emr_serverless_compute_requires_its_settings(env, missing):
    for var, value in _EMR.items():
        if var != missing:
            env.setenv(var, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == f"invalid settings: {missing} is required with CSP_COMPUTE=emr-serverless"


def test_bad_compute_and_code_uri_name_the_variable(env):
    env.setenv("CSP_COMPUTE", "emr")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == "invalid settings: CSP_COMPUTE: must be one of local, emr-serverless, got 'emr'"
    for var, value in _EMR.items():
        env.setenv(var, value)
    env.setenv("CSP_EMR_CODE_URI", "/opt/cs")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == ("invalid settings: CSP_EMR_CODE_URI: must be an s3:// URI (EMR Serverless reads "
                              "the entry points from S3), got '/opt/cs'")


def test_job_run_request_forwards_settings_but_no_secret(env):
    environ = {**_EMR, **_PROD, **_SECRETS, "CSP_HOME": "/home/dagster/.csp", "PATH": "/usr/bin", "CSP_SPARK_UI": "",
               "CSP_EMR_SPARK_SUBMIT_PARAMETERS": "--conf spark.executor.cores=4"}
    for var, value in environ.items():
        env.setenv(var, value)
    params = job_run_params(load_settings(), "stream_job.py", ["--namespace", "cs"], name="cs_stream-1a2b3c4d",
                            environ=environ)
    submit = params["jobDriver"]["sparkSubmit"].pop("sparkSubmitParameters")
    assert params == {
        "applicationId": "00fabc123", "executionRoleArn": "arn:aws:iam::123456789012:role/cs-emr",
        "name": "cs_stream-1a2b3c4d",
        "jobDriver": {"sparkSubmit": {"entryPoint": "s3://code/cs/v1/stream_job.py",
                                      "entryPointArguments": ["--namespace", "cs"]}},
        "configurationOverrides": {"monitoringConfiguration": {"cloudWatchLoggingConfiguration": {
            "enabled": True, "logGroupName": "/aws/emr-serverless"}}},
    }
    driver_env = "--conf spark.emr-serverless.driverEnv."
    assert submit == " ".join([
        "--conf spark.archives=s3://code/cs/v1/environment.tar.gz#environment",
        f"{driver_env}PYSPARK_DRIVER_PYTHON=./environment/bin/python",
        f"{driver_env}PYSPARK_PYTHON=./environment/bin/python",
        "--conf spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python",
        "--conf spark.jars.packages=org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.10.2,"
        "org.apache.iceberg:iceberg-aws-bundle:1.10.2,org.postgresql:postgresql:42.7.4,org.apache.hadoop:hadoop-aws:3.3.4",
        f"{driver_env}CSP_CATALOG_URI=postgresql+psycopg://lake@rds:5432/iceberg",
        f"{driver_env}CSP_CHECKPOINT_URI=s3://lake/checkpoints",
        f"{driver_env}CSP_DOCUMENTDB_TLS_CA_FILE=/etc/cs/rds-ca.pem",
        f"{driver_env}CSP_DOCUMENTDB_URI=mongodb://docdb:27017",
        f"{driver_env}CSP_LANDING_URI=s3://raw/firehose",
        f"{driver_env}CSP_PROFILE=prod",
        f"{driver_env}CSP_WAREHOUSE_URI=s3://lake/w",
        "--conf spark.executor.cores=4",
    ])
    assert not any(secret in str(params) + submit for secret in _SECRETS.values())


def test_a_value_spark_submit_cannot_carry_is_refused_by_name(env):
    environ = {**_EMR, "CSP_LANDING_URI": "s3://raw/fire hose"}
    for var, value in _EMR.items():
        env.setenv(var, value)
    with pytest.raises(ValueError) as err:
        job_run_params(load_settings(), "stream_job.py", [], name="x", environ=environ)
    assert str(err.value) == ("CSP_LANDING_URI: cannot be passed to EMR Serverless as a spark-submit --conf "
                              "(contains whitespace): 's3://raw/fire hose'")


def test_a_driver_started_by_spark_submit_keeps_the_clusters_master_memory_and_jars(env):
    from cs_platform.adapters.spark import spark_conf

    for var, value in _PROD.items():
        env.setenv(var, value)
    assert spark_conf(load_settings())["spark.master"] == "local[*]"
    env.setenv("PYSPARK_GATEWAY_PORT", "40000")
    conf = spark_conf(load_settings())
    assert {"spark.master", "spark.driver.memory", "spark.jars", "spark.jars.packages"}.isdisjoint(conf)
    assert conf["spark.sql.extensions"] == "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"


def test_a_maintenance_step_travels_to_its_emr_entry_point_unchanged(capsys):
    from dataclasses import asdict

    from cs_platform.lakehouse.maintenance import MaintenanceTarget, StepResult
    from cs_platform.remote.maintenance_job import maintenance_job_arguments, parse_args

    target = asdict(MaintenanceTarget("lake.cs.events", "2026-11-27T03:30:00+00:00", True, {"retain_last_snapshots": 5}))
    arguments = maintenance_job_arguments(target, "expire_snapshots")
    assert arguments == ["--target", '{"dry_run":true,"now":"2026-11-27T03:30:00+00:00","overrides":'
                                     '{"retain_last_snapshots":5},"table":"lake.cs.events"}', "--step", "expire_snapshots"]
    parsed = parse_args(arguments)
    assert (parsed.target, parsed.step) == (target, "expire_snapshots")
    result = StepResult("lake.cs.events", "expire_snapshots", "dry_run", outcome={"expired": 3}, before={"snapshots": 9})
    assert StepResult.from_dict(result.as_dict()) == result
    with pytest.raises(SystemExit) as exited:
        parse_args(["--target", "{}", "--step", "vacuum"])
    assert exited.value.code == 2
    assert "argument --step: invalid choice: 'vacuum'" in capsys.readouterr().err
