"""Throwaway containers for container scenarios, from a local busybox image (no registry needed).

The image is built once per Docker engine from Debian's static busybox with a link for every applet,
so scenario scripts have a normal shell toolbox (cp, mount, nc, unshare ...) and process names are
the applet names, as on a real distribution image.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import uuid
from dataclasses import dataclass

from lanner.core.errors import LannerError

DEFAULT_IMAGE = "lanner-test/busybox-full:1"
_BUSYBOX = ("/bin/busybox", "/usr/bin/busybox")


class DockerUnavailable(LannerError):
    """No usable Docker engine/client/busybox here; container scenarios are skipped with this reason."""


@dataclass
class Docker:
    client: str
    host: str            # DOCKER_HOST value

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, DOCKER_HOST=self.host)

    def run(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        try:
            p = subprocess.run([self.client, *args], env=self.env, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DockerUnavailable(f"docker {args[0]} timed out after {timeout}s") from None
        if check and p.returncode != 0:
            raise DockerUnavailable(f"docker {' '.join(args[:2])} failed: {p.stderr.decode(errors='replace').strip()}")
        return p


def find_docker(host: str | None = None) -> Docker:
    client = shutil.which("docker")
    if client is None:
        raise DockerUnavailable("docker client not installed")
    host = host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if host.startswith("unix://") and not os.path.exists(host[len("unix://"):]):
        raise DockerUnavailable(f"no Docker engine socket at {host[len('unix://'):]} (start dockerd or set DOCKER_HOST)")
    d = Docker(client, host)
    p = d.run("version", "--format", "{{.Server.Version}}", timeout=15, check=False)
    if p.returncode != 0:
        raise DockerUnavailable(f"Docker engine at {host} does not answer: {p.stderr.decode(errors='replace').strip()}")
    return d


def rootfs_tar() -> bytes:
    bb = next((p for p in _BUSYBOX if os.path.exists(p)), None)
    if bb is None:
        raise DockerUnavailable("busybox not installed (Debian package busybox-static)")
    applets = subprocess.run([bb, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "tmp", "root", "proc", "sys", "dev", "mnt", "var", "var/log", "usr", "usr/bin"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(ti)
        with open(bb, "rb") as f:
            data = f.read()
        ti = tarfile.TarInfo("bin/busybox")
        ti.size, ti.mode = len(data), 0o755
        tar.addfile(ti, io.BytesIO(data))
        for a in applets:
            if a == "busybox":
                continue
            ti = tarfile.TarInfo("bin/" + a)
            ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(ti)
        for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"),
                           ("etc/group", "root:x:0:\nnogroup:x:65534:\n")):
            raw = text.encode()
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(raw), 0o644
            tar.addfile(ti, io.BytesIO(raw))
    return buf.getvalue()


def ensure_image(d: Docker, ref: str = DEFAULT_IMAGE) -> str:
    if d.run("image", "inspect", ref, check=False, timeout=15).returncode == 0:
        return ref
    try:
        p = subprocess.run([d.client, "import", "--change", 'CMD ["/bin/sh"]', "-", ref], env=d.env,
                           input=rootfs_tar(), capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise DockerUnavailable("docker import timed out") from None
    if p.returncode != 0:
        raise DockerUnavailable(f"could not build test image {ref}: {p.stderr.decode(errors='replace').strip()}")
    return ref


class Throwaway:
    """A container for one scenario: ``start`` (sleeping) then ``exec`` the script, or
    ``run_as_command``; removed when the ``with`` block ends."""

    def __init__(self, d: Docker, image: str, options: tuple[str, ...] = ()) -> None:
        self.d = d
        self.name = "lanner-test-" + uuid.uuid4().hex[:12]
        self.id = ""
        self.image = image
        self.options = options

    def start(self) -> Throwaway:
        net = () if any(o.startswith("--network") or o.startswith("--net=") for o in self.options) \
            else ("--network", "none")
        p = self.d.run("run", "-d", "--name", self.name, *net, *self.options, self.image, "sleep", "3600",
                       timeout=60)
        self.id = p.stdout.decode().strip()
        return self

    def run_as_command(self, script: str, timeout: float) -> tuple[int, str]:
        """Create the container with the script as its command (pid 1), start it and wait."""
        net = () if any(o.startswith("--network") or o.startswith("--net=") for o in self.options) \
            else ("--network", "none")
        p = self.d.run("create", "--name", self.name, *net, *self.options, self.image, "/bin/sh", "-ec", script,
                       timeout=60)
        self.id = p.stdout.decode().strip()
        try:
            p2 = subprocess.run([self.d.client, "start", "-a", self.id], env=self.d.env, capture_output=True,
                                timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return -1, f"timed out after {timeout}s"
        return p2.returncode, (p2.stdout + p2.stderr).decode(errors="replace")

    def exec(self, script: str, tty: bool, timeout: float) -> tuple[int, str]:
        args = [self.d.client, "exec", *(("-t",) if tty else ()), self.id, "/bin/sh", "-ec", script]
        try:
            p = subprocess.run(args, env=self.d.env, capture_output=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return -1, f"timed out after {timeout}s"
        return p.returncode, (p.stdout + p.stderr).decode(errors="replace")

    def __enter__(self) -> Throwaway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.d.run("rm", "-f", self.name, check=False, timeout=60)
