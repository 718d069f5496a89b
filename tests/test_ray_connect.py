"""`--executor ray` with an address it cannot use ends in one `error:` line and exit 2, within a bound.

Without a deadline, ``ray.init(address=...)`` retries for minutes against an address where
nothing (or nothing that speaks Ray) listens. Every case here is local and bounded.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from regsuite.cli import cli
from regsuite.errors import UsageError

pytest.importorskip("ray", reason="ray is not installed (pip install 'regsuite[ray]')")

from regsuite.executors.ray import RayExecutor, host_port  # noqa: E402


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_where_nothing_listens_is_refused_at_once(tmp_path):
    port = free_port()
    config = tmp_path / "ray.toml"
    config.write_text(f'[ray]\naddress = "127.0.0.1:{port}"\n')
    t0 = time.monotonic()
    res = CliRunner().invoke(cli, ["bench", "--task", "digits-mlp", "--out", str(tmp_path / "out"),
                                   "--executor", "ray", "--executor-config", str(config), "--quiet"])
    assert time.monotonic() - t0 < 20  # before the fix: ray.init retried far longer than this
    assert res.exit_code == 2, res.output
    assert res.stderr.strip().splitlines() == [
        f"error: cannot reach the Ray cluster at 127.0.0.1:{port}: Connection refused "
        "(is `ray start --head` running there? see [ray] address)"
    ]
    assert not (tmp_path / "out" / "runs").exists() or not list((tmp_path / "out" / "runs").glob("*.parquet"))


def test_an_address_that_never_answers_as_ray_is_given_up_after_connect_timeout(tmp_path):
    """A socket that accepts connections and says nothing: ray.init would wait; the deadline (1 s) ends it."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        port = server.getsockname()[1]
        config = tmp_path / "ray.toml"
        config.write_text(f'[ray]\naddress = "127.0.0.1:{port}"\nconnect_timeout = 1\n')
        # A fresh process: the abandoned ray.init thread must not outlive the command or block its exit.
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-c", "from regsuite.cli import main; main()", "bench", "--task", "digits-mlp",
             "--out", str(tmp_path / "out"), "--executor", "ray", "--executor-config", str(config), "--quiet"],
            capture_output=True, text=True, timeout=120, env=dict(os.environ, OMP_NUM_THREADS="1"))
        elapsed = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: Ray did not connect to 127.0.0.1:{port} within 1 s "
        "([ray] connect_timeout in --executor-config sets this)"
    ]
    assert elapsed < 60


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0, -3, "10", True])
def test_connect_timeout_must_be_a_positive_finite_number(value):
    with pytest.raises(UsageError, match=r"\[ray\] connect_timeout must be a positive, finite number"):
        RayExecutor(config={"connect_timeout": value})


def test_connect_timeout_default_and_given():
    assert RayExecutor().connect_timeout == 30.0
    assert RayExecutor(config={"connect_timeout": 2}).connect_timeout == 2.0


@pytest.mark.parametrize("address,expected", [
    ("127.0.0.1:6379", ("127.0.0.1", 6379)),
    ("ray://head.cluster:10001", ("head.cluster", 10001)),
    ("ray://head:10001/", ("head", 10001)),
    ("[::1]:6379", ("::1", 6379)),
    ("auto", None),
    ("local", None),
    ("head:port", None),
])
def test_host_port_of_a_ray_address(address, expected):
    assert host_port(address) == expected


def test_ray_address_from_the_environment_is_bounded_too(tmp_path, monkeypatch):
    """No address in the config, RAY_ADDRESS pointing at nothing: ray.init would use it and wait."""
    port = free_port()
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    res = CliRunner().invoke(cli, ["bench", "--task", "digits-mlp", "--out", str(tmp_path / "out"),
                                   "--executor", "ray", "--quiet"])
    assert res.exit_code == 2, res.output
    assert res.stderr.strip().splitlines()[-1].startswith(f"error: cannot reach the Ray cluster at 127.0.0.1:{port}")
