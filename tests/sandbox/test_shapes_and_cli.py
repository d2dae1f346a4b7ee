"""shapes.py is generated from the spec and up to date; `csql sandbox` starts and serves."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import yaml

from csql.sandbox import shapes


def test_shapes_module_is_up_to_date(spec_path):
    import gen_shapes

    expected = gen_shapes.build(yaml.safe_load(spec_path.read_text()))
    assert expected == shapes.SHAPES, "run: python tests/sandbox/gen_shapes.py"


def test_cli_prints_base_url_and_serves():
    code = "import sys; from csql.sandbox import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0", "--scale", "0.05", "--username", "u",
         "--api-key", "k"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v3")
        deadline = time.monotonic() + 10
        while True:
            try:
                r = httpx.get(f"{url}/account", auth=("u", "k"))
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["data"]["username"] == "u"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
