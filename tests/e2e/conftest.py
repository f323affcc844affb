"""Starts the real `tianji` binary against the real `mock-upstream` binary.

Binaries come from $TIANJI_BIN / $MOCK_UPSTREAM_BIN, or from
$CARGO_TARGET_DIR/debug (scripts/test builds them first).
"""

import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", pathlib.Path.home() / ".cache" / "tianji-target"))
TIANJI = pathlib.Path(os.environ.get("TIANJI_BIN", TARGET / "debug" / "tianji"))
MOCK = pathlib.Path(os.environ.get("MOCK_UPSTREAM_BIN", TARGET / "debug" / "mock-upstream"))
MASTER_KEY = "sk-e2e-master"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except Exception:
            time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def require(path: pathlib.Path) -> None:
    if not path.exists():
        pytest.fail(f"{path} is missing: build it with `cargo build --workspace` (scripts/test does this)")


class Proc:
    def __init__(self, args, env=None):
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, text=True)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


@pytest.fixture(scope="session")
def mock_upstream():
    require(MOCK)
    port = free_port()
    proc = Proc([str(MOCK), "--port", str(port), "--chunks", "8", "--chunk-interval-ms", "5"])
    wait_http(f"http://127.0.0.1:{port}/_mock/stats")
    yield f"http://127.0.0.1:{port}"
    proc.stop()


def config_for(upstream: str) -> str:
    base = f"{upstream}/v1"
    return f"""
model_list:
  - model_name: gpt-4o
    litellm_params: {{model: openai/gpt-4o, api_base: "{base}", api_key: sk-upstream}}
  - model_name: tools-model
    litellm_params: {{model: openai/tools, api_base: "{base}", api_key: sk-upstream}}
  - model_name: text-embedding-3-small
    litellm_params: {{model: openai/text-embedding-3-small, api_base: "{base}", api_key: sk-upstream}}
  - model_name: rate-limited
    litellm_params: {{model: openai/error-429, api_base: "{base}", api_key: sk-upstream}}
  - model_name: server-error
    litellm_params: {{model: openai/error-500, api_base: "{base}", api_key: sk-upstream}}
  - model_name: forbidden
    litellm_params: {{model: openai/error-403, api_base: "{base}", api_key: sk-upstream}}
  - model_name: flaky
    litellm_params: {{model: openai/flaky-2, api_base: "{base}", api_key: sk-upstream}}
  - model_name: hangs
    litellm_params: {{model: openai/timeout, api_base: "{base}", api_key: sk-upstream, timeout: 0.5}}
  - model_name: cools
    litellm_params: {{model: openai/error-429-a, api_base: "{base}", api_key: sk-upstream}}
    model_info: {{id: cools-a}}
  - model_name: cools
    litellm_params: {{model: openai/error-429-b, api_base: "{base}", api_key: sk-upstream}}
    model_info: {{id: cools-b}}
  - model_name: slow-stream
    litellm_params: {{model: openai/gpt-4o-slow-stream, api_base: "{base}", api_key: sk-upstream}}
  - model_name: mocked
    litellm_params: {{model: openai/gpt-4o, mock_response: "canned answer"}}
  - model_name: claude
    litellm_params: {{model: anthropic/claude-sonnet-4-5, api_base: "{upstream}", api_key: sk-ant-upstream}}
  - model_name: claude-tools
    litellm_params: {{model: anthropic/tools, api_base: "{upstream}", api_key: sk-ant-upstream}}
  - model_name: claude-limited
    litellm_params: {{model: anthropic/error-429, api_base: "{upstream}", api_key: sk-ant-upstream}}
  - model_name: claude-small
    litellm_params: {{model: anthropic/error-context, api_base: "{upstream}", api_key: sk-ant-upstream}}
router_settings:
  num_retries: 2
  retry_after: 0
  cooldown_time: 30
  fallbacks: [{{"server-error": ["gpt-4o"]}}]
general_settings:
  master_key: {MASTER_KEY}
"""


@pytest.fixture(scope="session")
def proxy(mock_upstream, tmp_path_factory):
    require(TIANJI)
    cfg = tmp_path_factory.mktemp("cfg") / "config.yaml"
    cfg.write_text(config_for(mock_upstream))
    port = free_port()
    proc = Proc([str(TIANJI), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port)])
    wait_http(f"http://127.0.0.1:{port}/health/liveliness")
    yield f"http://127.0.0.1:{port}"
    proc.stop()


@pytest.fixture
def client(proxy):
    from openai import OpenAI

    return OpenAI(base_url=f"{proxy}/v1", api_key=MASTER_KEY, max_retries=0, timeout=20)


def mock_stats(mock_upstream: str) -> dict:
    import json

    with urllib.request.urlopen(f"{mock_upstream}/_mock/stats") as r:
        return json.loads(r.read())
