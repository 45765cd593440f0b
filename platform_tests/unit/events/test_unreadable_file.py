"""Which failed reads mean "this object's bytes cannot be decoded" (quarantine it) and which do not
(the batch fails and is replayed): the error texts are Spark 3.5's, as py4j renders them."""

from __future__ import annotations

from cs_platform.adapters.landing import UnreadableFile, unreadable_file

URI = "s3a://landing/2026/11/26/10/cs-events-1-2026-11-26-10-00-00-a.gz"


def _failed_read(cause: str) -> Exception:
    return Exception(
        "An error occurred while calling o87.count.\n"
        ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 3.0 failed 1 times, "
        f"most recent failure: Lost task 0.0: org.apache.spark.SparkException: Encountered error while reading file "
        f"{URI}. Details:\n\tat org.apache.spark.sql.errors.QueryExecutionErrors$.cannotReadFilesError\n"
        f"Caused by: {cause}\n\tat org.apache.hadoop.io.compress...\n")


def test_a_corrupt_gzip_is_unreadable_with_its_cause():
    assert unreadable_file(_failed_read("java.io.EOFException: Unexpected end of input stream")) == UnreadableFile(
        URI, "java.io.EOFException: Unexpected end of input stream")
    assert unreadable_file(_failed_read("java.util.zip.ZipException: Not in GZIP format")) == UnreadableFile(
        URI, "java.util.zip.ZipException: Not in GZIP format")
    assert unreadable_file(_failed_read("java.io.IOException: incorrect header check")) == UnreadableFile(
        URI, "java.io.IOException: incorrect header check")


def test_a_read_that_failed_for_another_reason_is_not_the_objects_fault():
    assert unreadable_file(_failed_read("java.nio.file.AccessDeniedException: s3a://landing/x: getObject: 403")) is None
    assert unreadable_file(_failed_read("java.net.SocketTimeoutException: Read timed out")) is None
    assert unreadable_file(Exception("org.apache.spark.SparkException: Job aborted: OutOfMemoryError")) is None
