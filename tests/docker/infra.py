"""Docker test infrastructure usable by any test: a running Docker engine and a local image.

``docker_engine`` (session fixture) uses an engine that already answers on ``/var/run/docker.sock``, or
starts Debian's ``dockerd --bridge=none --iptables=false`` with its own data root, exec root and socket
under a temporary directory, waits for it and stops it at the end. It installs nothing: without
``dockerd`` (Debian package docker.io) or root, dependent tests skip with the reason.

``build_rootfs_image`` builds an image without any registry: a rootfs tarball made from Debian's static
busybox (package busybox-static) plus /etc/passwd and /etc/group, fed to ``docker import``.
Containers must run with ``--network none`` or ``--network host``; ``--privileged`` fails on these
machines, grant explicit ``--cap-add`` capabilities instead.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from lanner.state.runtimes.unixhttp import UnixHTTPConnection

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
APPLETS = ("sh", "ls", "cat", "sleep", "id", "echo", "ps", "true", "env")


@dataclass
class DockerEngine:
    socket: str
    docker: str                      # client binary
    started_pid: int | None = None   # dockerd we started, else None
    root: str = ""
    images: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, DOCKER_HOST="unix://" + self.socket)

    def run(self, *args: str, check: bool = True, timeout: float = 60, input: bytes | None = None
            ) -> subprocess.CompletedProcess:
        """Run ``docker <args>`` against this engine."""
        p = subprocess.run([self.docker, *args], env=self.env, capture_output=True, timeout=timeout,
                           input=input)
        if check and p.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} failed ({p.returncode}): "
                               f"{p.stderr.decode(errors='replace').strip()}")
        return p


def socket_answers(path: str, timeout: float = 1.0) -> bool:
    if not os.path.exists(path):
        return False
    try:
        c = UnixHTTPConnection(path, timeout)
        try:
            c.request("GET", "/_ping")
            return c.getresponse().status == 200
        finally:
            c.close()
    except OSError:
        return False


def _client() -> str | None:
    for c in ("/usr/bin/docker", shutil.which("docker")):
        if c and os.access(c, os.X_OK):
            return c
    return None


def start_dockerd(root: str, timeout: float = 30.0) -> DockerEngine:
    """Start a private dockerd under ``root``; raises RuntimeError with its log tail on failure."""
    dockerd = shutil.which("dockerd")
    client = _client()
    if not dockerd or not client:
        raise FileNotFoundError("dockerd/docker not installed (Debian package docker.io)")
    sock = os.path.join(root, "docker.sock")
    with open(os.path.join(root, "dockerd.log"), "wb") as logf:
        proc = subprocess.Popen(
            [dockerd, "--bridge=none", "--iptables=false", "--ip6tables=false",
             "--data-root", os.path.join(root, "data"), "--exec-root", os.path.join(root, "exec"),
             "--pidfile", os.path.join(root, "dockerd.pid"), "-H", "unix://" + sock, "--log-level", "warn"],
            stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if socket_answers(sock):
            return DockerEngine(sock, client, proc.pid, root)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    stop_pid(proc.pid)
    with open(os.path.join(root, "dockerd.log"), "rb") as f:
        tail = f.read()[-2000:].decode(errors="replace")
    raise RuntimeError(f"dockerd did not come up within {timeout}s; log tail:\n{tail}")


def stop_pid(pid: int, timeout: float = 20.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            wpid, _ = os.waitpid(pid, os.WNOHANG)
            if wpid == pid:
                return
        except ChildProcessError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def unmount_under(root: str) -> None:
    """Unmount everything an engine left mounted below ``root`` (deepest first), so it can be removed."""
    with open("/proc/self/mounts") as f:
        points = [ln.split()[1] for ln in f if ln.split()[1].startswith(root.rstrip("/") + "/")]
    for p in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", p], capture_output=True)


def rootfs_tarball(extra_files: dict[str, bytes] | None = None) -> bytes:
    """A tar of a tiny root filesystem: static busybox + applet links + passwd/group (+ extra files)."""
    bb = next((p for p in BUSYBOX_CANDIDATES if os.path.exists(p)), None)
    if bb is None:
        raise FileNotFoundError("busybox not installed (Debian package busybox-static)")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add_dir(name: str) -> None:
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(ti)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), mode
            tar.addfile(ti, io.BytesIO(data))

        for d in ("bin", "etc", "tmp", "root", "proc", "sys", "dev"):
            add_dir(d)
        with open(bb, "rb") as f:
            add_file("bin/busybox", f.read(), 0o755)
        for a in APPLETS:
            ti = tarfile.TarInfo("bin/" + a)
            ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(ti)
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        add_file("etc/group", b"root:x:0:\n")
        for name, data in (extra_files or {}).items():
            add_file(name.lstrip("/"), data)
    return buf.getvalue()


def build_rootfs_image(engine: DockerEngine, ref: str = "lanner-test/busybox:1.0",
                       extra_files: dict[str, bytes] | None = None) -> str:
    """Import a local rootfs tarball as image ``ref`` (no registry involved); returns the image id."""
    p = engine.run("import", "--change", 'CMD ["/bin/sh"]', "-", ref, input=rootfs_tarball(extra_files))
    engine.images.append(ref)
    return p.stdout.decode().strip()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    if os.geteuid() != 0:
        pytest.skip("docker tests need root")
    client = _client()
    if client and socket_answers("/var/run/docker.sock"):
        yield DockerEngine("/var/run/docker.sock", client)
        return
    if not shutil.which("dockerd") or not client:
        pytest.skip("dockerd not installed (apt-get install docker.io)")
    root = tempfile.mkdtemp(prefix="lanner-dockerd-", dir="/tmp")
    try:
        eng = start_dockerd(root)
    except (RuntimeError, OSError) as e:
        shutil.rmtree(root, ignore_errors=True)
        # root and dockerd are here: an engine that does not start is a failure, not a skip
        pytest.fail(f"could not start dockerd: {e}")
    try:
        yield eng
    finally:
        ps = eng.run("ps", "-aq", check=False).stdout.decode().split()
        if ps:
            eng.run("rm", "-f", *ps, check=False)
        stop_pid(eng.started_pid or 0)
        unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)
