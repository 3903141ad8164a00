"""Running Orthanc (Debian packages ``orthanc`` and ``orthanc-dicomweb``) in tests and benchmarks.

Orthanc 1.10 binds 0.0.0.0 with no option to change it, so it runs in a private network namespace
(``unshare --net``, then loopback up) together with everything that talks to it: the caller re-runs a
module of its own under :func:`namespace_prefix` and that module starts Orthanc with
:func:`running_orthanc`, a private configuration and storage under a work directory.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import free_port

ORTHANC_DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")


def tool(name: str) -> str | None:
    """The path of a command, also in the sbin folders a non-root PATH may leave out."""
    found = shutil.which(name)
    if found is not None:
        return found
    for folder in ("/usr/sbin", "/sbin", "/usr/bin"):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def run_group(command: list[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in its own process group; if it overruns ``timeout`` (or the caller is interrupted)
    the group gets SIGTERM, then SIGKILL after a grace period, so a hung peer (and anything it started)
    never outlives the caller."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kwargs
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def missing_orthanc() -> str | None:
    """Why Orthanc cannot run here in a private network namespace (``None`` when it can)."""
    if tool("Orthanc") is None:
        return "Orthanc (Debian package orthanc) not installed"
    if not ORTHANC_DICOMWEB_PLUGIN.is_file():
        return f"Orthanc DICOMweb plugin {ORTHANC_DICOMWEB_PLUGIN} (Debian package orthanc-dicomweb) not installed"
    if tool("ip") is None:
        return "ip (Debian package iproute2) not installed"
    if tool("unshare") is None:
        return "unshare (util-linux) not installed"
    probe = subprocess.run(
        [*namespace_prefix(), str(tool("ip")), "link", "set", "lo", "up"], capture_output=True, text=True, timeout=30
    )
    if probe.returncode != 0:
        return f"cannot create a private network namespace for Orthanc: {probe.stderr.strip()}"
    return None


def namespace_prefix() -> list[str]:
    """``unshare`` into a new network namespace (mapping the user to root when not already root)."""
    unshare = tool("unshare") or "unshare"
    return [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--map-root-user", "--net"]


def orthanc_config(workdir: Path, port: int, **overrides: Any) -> dict[str, Any]:
    """A private Orthanc configuration: storage and index under ``workdir``, HTTP on ``port`` only, no
    DICOM server (unless ``overrides`` enable one), no remote access, no authentication, the DICOMweb
    plugin at ``/dicom-web/``."""
    return {
        "Name": "modic-interop-test",
        "StorageDirectory": str(workdir / "storage"),
        "IndexDirectory": str(workdir / "index"),
        "StorageCompression": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "RegisteredUsers": {},
        "DicomServerEnabled": False,
        "DicomModalities": {},
        "OrthancPeers": {},
        "HttpServerEnabled": True,
        "HttpPort": port,
        "HttpThreadsCount": 4,
        "SslEnabled": False,
        "LuaScripts": [],
        "SaveJobs": False,
        "ConcurrentJobs": 1,
        "Plugins": [str(ORTHANC_DICOMWEB_PLUGIN)],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        **overrides,
    }


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the process that started it dies (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM ends the process through its ``finally`` blocks, which stop and reap Orthanc."""
    raise SystemExit(128 + signum)


def _wait_for_orthanc(orthanc: subprocess.Popen[bytes], base: str, log: Path, auth: str | None) -> None:
    """Poll ``/system`` until Orthanc answers."""
    deadline = time.monotonic() + 30
    request = urllib.request.Request(f"{base}/system", headers={"Authorization": auth} if auth else {})
    while True:
        if orthanc.poll() is not None:
            raise RuntimeError(f"Orthanc exited with status {orthanc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if json.load(response).get("Version"):
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Orthanc did not answer on {base}/system: {log.read_text()[-2000:]}") from None
        time.sleep(0.1)


@contextmanager
def running_orthanc(
    workdir: Path,
    orthanc: str,
    ip: str,
    *,
    verbose: bool = False,
    auth: str | None = None,
    port: int | None = None,
    **overrides: Any,
) -> Iterator[str]:
    """Inside a fresh network namespace: bring up loopback, start Orthanc with :func:`orthanc_config`
    (plus ``overrides``), wait for it and yield its base URL; Orthanc is stopped on every path and dies
    with this process if it is killed. Its log is ``workdir/orthanc.log`` (``--verbose`` logs every HTTP
    request and C-MOVE sub-operation). ``auth`` is the Authorization header value when users are set;
    ``port`` the HTTP port (default: a free one), for a client configured before Orthanc starts."""
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    subprocess.run([ip, "link", "set", "lo", "up"], check=True)
    port = port or free_port()
    config = workdir / "orthanc.json"
    config.write_text(json.dumps(orthanc_config(workdir, port, **overrides), indent=2))
    log = workdir / "orthanc.log"
    base = f"http://127.0.0.1:{port}"
    command = [orthanc, *(["--verbose"] if verbose else []), str(config)]
    with log.open("wb") as log_file:
        server = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        try:
            _wait_for_orthanc(server, base, log, auth)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
