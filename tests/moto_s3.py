"""moto's S3 server on 127.0.0.1, started by the tests that need a real S3 implementation.

`moto_s3` (a pytest fixture, module scope) starts it and yields its endpoint; `s3_env` gives a
test the backend's standard environment (AWS_ENDPOINT_URL and test credentials) and a fresh
bucket, whose URL it yields: the stages find the server the way they would find AWS.
"""
from __future__ import annotations

import itertools
import os

import pytest

from curation import storage

_buckets = itertools.count()


def start_server():
    """(server, endpoint) of a moto S3 server on a free port of 127.0.0.1."""
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def s3_environment(endpoint: str) -> dict:
    return {**ENV, "AWS_ENDPOINT_URL": endpoint}


def make_bucket(endpoint: str, name: str) -> str:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=name)
    return f"s3://{name}"


@pytest.fixture(scope="module")
def moto_s3():
    server, endpoint = start_server()
    yield endpoint
    server.stop()


@pytest.fixture
def s3_env(moto_s3, monkeypatch):
    """A fresh bucket's URL, with the environment that points S3 clients at moto."""
    for key, value in s3_environment(moto_s3).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(storage.OPTIONS_ENV, raising=False)
    storage._filesystem.cache_clear()
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # a client of an earlier server would be reused
    bucket = make_bucket(moto_s3, f"medcurate-{os.getpid()}-{next(_buckets)}")
    yield bucket
    storage._filesystem.cache_clear()
