"""HAProxy's configuration for `./run.sh --rasa N --handoff M` (stack/balancer.py)."""

import subprocess
import time

import pytest

from stack import balancer
from stack.services import free_port, port_in_use


def _config() -> str:
    return balancer.config(8080, 5005, [7001, 7002], [7101, 7102], 7200)


def test_customers_channels_go_to_rasa_with_a_sticky_cookie_and_the_rest_to_the_service():
    text = _config()
    assert "bind 127.0.0.1:8080" in text and "bind 127.0.0.1:5005" in text
    assert "acl to_rasa path_beg /socket.io/ /webhooks/" in text
    assert "cookie hf_rasa insert indirect nocache httponly" in text
    for port in (7001, 7002, 7101, 7102):
        assert f"127.0.0.1:{port} check" in text
    assert "http-check expect status 401" in text  # the service wants a session: it is up
    assert "timeout tunnel 1h" in text  # WebSockets stay open


def test_haproxy_starts_with_the_configuration(tmp_path):
    """Checked (`-c`) and started: a check alone misses limits met only at start."""
    try:
        binary = balancer.haproxy_binary()
    except FileNotFoundError:
        pytest.skip("HAProxy is not installed (test.sh installs it)")
    ports = [free_port() for _ in range(7)]
    path = tmp_path / "haproxy.cfg"
    path.write_text(balancer.config(ports[0], ports[1], ports[2:4], ports[4:6], ports[6]))
    checked = subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True,
                             timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    proc = subprocess.Popen([binary, "-db", "-f", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not port_in_use(ports[6]):
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "HAProxy's stats page never answered"
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
