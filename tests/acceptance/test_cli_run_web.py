"""``hanchot run --web HOST:PORT``: the daemon serves the portal from its own process;
a sign-in requested on the portal is mailed by the daemon (here as an .eml file)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"}
    e.update(HANCHOT_LANG="en", HANCHOT_POLL_SECONDS="0.5")
    return e


def test_run_with_web_serves_the_portal_and_mails_its_notices(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from engine.cli import main; main()",
            "run",
            "--web",
            f"127.0.0.1:{port}",
        ],
        cwd=tmp_path,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                form = httpx.get(base + "/dang-nhap", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.2)
        assert form.status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        r = httpx.post(
            base + "/dang-nhap",
            data={"csrf": csrf, "email": "qlcn@example.gov.vn"},
            cookies=form.cookies,
        )
        assert r.status_code == 200
        found: list[Path] = []
        for _ in range(100):  # the daemon's next poll sends it
            found = [
                p
                for p in (tmp_path / "var" / "mail").rglob("*.eml")
                if "qlcn@example.gov.vn" in p.read_text(errors="replace")
            ]
            if found:
                break
            time.sleep(0.2)
        assert found, "the daemon did not mail the sign-in link"
        import email
        import email.policy

        msg = email.message_from_bytes(found[0].read_bytes(), policy=email.policy.default)
        # No web.base_url in the shipped settings: the link uses the address asked.
        link = re.search(rf"{base}/dang-nhap/\S+", msg.get_content()).group(0)
        assert httpx.get(link).status_code == 303  # signs in, once
        assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o777 == 0o600
        # The portal's /healthz sees the daemon's periodic checks (every 0.5 s here).
        health = httpx.get(base + "/healthz")
        assert health.status_code == 200 and health.json()["daemon"]["recent"] is True
        assert 0 <= health.json()["daemon"]["seconds_ago"] < 60
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read().decode()


def test_run_web_bad_address_exits_2(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    for bad in ("8080", "localhost:http", "127.0.0.1:70000"):
        r = subprocess.run(
            [sys.executable, "-c", "from engine.cli import main; main()", "run", "--web", bad],
            cwd=tmp_path,
            env=env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2 and "HOST:PORT" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", "web", "--port", "0"],
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "--port 0" in r.stderr
