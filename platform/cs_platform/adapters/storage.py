"""Minimal listing, reading and writing of `file://` and `s3://` locations, without a JVM: for the
Structured Streaming sensor (landing files, checkpoint logs, the progress log) and for small state
files that must outlive the machine that wrote them (migration progress)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit


def normalize(uri: str) -> str:
    """One spelling per location: Spark writes `file:/x`, Python `file:///x`; both become `/x`."""
    parts = urlsplit(uri)
    if parts.scheme in ("", "file"):
        return unquote(parts.path)
    return f"{parts.scheme.replace('s3a', 's3')}://{parts.netloc}{unquote(parts.path)}"


def local_path(uri: str) -> Path | None:
    parts = urlsplit(uri)
    return Path(unquote(parts.path)) if parts.scheme in ("", "file") else None


def s3_location(uri: str) -> tuple[str, str]:
    """(bucket, key) of an `s3://bucket/key` URI."""
    parts = urlsplit(uri)
    return parts.netloc, parts.path.lstrip("/")


def s3_client(settings=None):
    import boto3

    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url) if settings else boto3.client("s3")


def read_text(uri: str, settings=None) -> str | None:
    """The file's text, or None when it does not exist."""
    path = local_path(uri)
    if path is not None:
        try:
            return path.read_text()
        except FileNotFoundError:
            return None
    bucket, key = s3_location(uri)
    client = s3_client(settings)
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except client.exceptions.NoSuchKey:
        return None


def child_names(uri: str, settings=None) -> list[str]:
    """Names directly under a directory URI (empty when absent)."""
    path = local_path(uri)
    if path is not None:
        return sorted(os.listdir(path)) if path.is_dir() else []
    parts = urlsplit(uri)
    prefix = parts.path.lstrip("/").rstrip("/") + "/"
    names = set()
    for page in s3_client(settings).get_paginator("list_objects_v2").paginate(Bucket=parts.netloc, Prefix=prefix):
        for obj in page.get("Contents", []):
            names.add(obj["Key"][len(prefix):].split("/")[0])
    return sorted(names)


def write_text(uri: str, text: str, settings=None) -> None:
    """Replace the file's text atomically: a reader (or a crash) sees the old text or the new one."""
    path = local_path(uri)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        return
    bucket, key = s3_location(uri)
    s3_client(settings).put_object(Bucket=bucket, Key=key, Body=text.encode())


def delete(uri: str, settings=None) -> None:
    """Remove the file; nothing to do when it does not exist."""
    path = local_path(uri)
    if path is not None:
        path.unlink(missing_ok=True)
        return
    bucket, key = s3_location(uri)
    s3_client(settings).delete_object(Bucket=bucket, Key=key)
