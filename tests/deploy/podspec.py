"""Turn the DaemonSet's pod spec (deploy/kubernetes/) into a ``docker run`` command line.

The end-to-end test runs the lanner image the way the kubelet would: same host PID namespace, security
context, environment and mounts, read from the manifest rather than restated. Two things need a local
stand-in: ConfigMap volumes (written to a directory and bind-mounted read-only) and ``fieldRef``
environment values (given by the caller). hostPath volumes whose path does not exist on this machine
are left out, as a node without that runtime would have nothing there; a caller may redirect a hostPath
(for a Docker engine whose socket is not at /var/run/docker.sock).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"


def load_objects(path: Path) -> list[dict[str, Any]]:
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def manifest(kind: str, name: str | None = None) -> dict[str, Any]:
    """The object of that kind (and name) from deploy/kubernetes/*.yaml."""
    for p in sorted(K8S.glob("*.yaml")):
        for d in load_objects(p):
            if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name):
                return d
    raise LookupError(f"no {kind} {name or ''} in {K8S}")


@dataclass
class DockerRun:
    args: list[str]
    image: str
    command_args: list[str]
    notes: list[str] = field(default_factory=list)

    def argv(self, name: str) -> list[str]:
        return ["run", "-d", "--name", name, *self.args, self.image, *self.command_args]


def docker_run_for(pod: Mapping[str, Any], workdir: Path, *, field_values: Mapping[str, str],
                   host_paths: Mapping[str, str] | None = None,
                   cap_map: Callable[[str], str | None] = lambda c: c,
                   configmaps: Mapping[str, Mapping[str, Any]] | None = None,
                   secrets: Mapping[str, Mapping[str, Any]] | None = None) -> DockerRun:
    """``docker run`` arguments equivalent to the pod's single container.

    ``cap_map`` maps a Kubernetes capability name to what this engine can grant (None: leave out); every
    difference is recorded in ``notes``. ``configmaps`` (name -> object) holds the ConfigMaps the volumes
    name, for a pod rendered elsewhere (the Helm chart); by default they come from deploy/kubernetes/.
    ``secrets`` likewise holds the Secrets a secret volume names.
    """
    spec = pod["spec"]
    (c,) = spec["containers"]
    notes: list[str] = []
    args: list[str] = []
    if spec.get("hostPID"):
        args += ["--pid", "host"]
    if spec.get("hostNetwork"):
        args += ["--network", "host"]
    else:
        args += ["--network", "none"]   # a pod has its own network namespace; this engine has no bridge
    sc = c.get("securityContext") or {}
    if sc.get("privileged"):
        args.append("--privileged")
    if "runAsUser" in sc:
        args += ["--user", str(sc["runAsUser"])]
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        args += ["--security-opt", "seccomp=unconfined"]
    caps = sc.get("capabilities") or {}
    for d in caps.get("drop") or []:
        args += ["--cap-drop", d]
    granted: list[str] = []
    for a in caps.get("add") or []:
        m = cap_map(a)
        if m != a:
            notes.append(f"capability {a}: " + (f"granted as {m}" if m else "left out") + " on this engine")
        if m and m not in granted:
            granted.append(m)
    for g in granted:
        args += ["--cap-add", g]
    for e in c.get("env") or []:
        if "value" in e:
            args += ["-e", f"{e['name']}={e['value']}"]
        else:
            fp = e["valueFrom"]["fieldRef"]["fieldPath"]
            args += ["-e", f"{e['name']}={field_values[fp]}"]
    for ef in c.get("envFrom") or []:
        ref = (ef.get("secretRef") or {}).get("name")
        if ref and secrets is not None and ref in secrets:
            for k, b64 in (secrets[ref].get("data") or {}).items():
                args += ["-e", f"{k}={base64.b64decode(b64).decode()}"]
        else:
            notes.append(f"envFrom {ef}: not available here, left out")
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for m in c.get("volumeMounts") or []:
        v = volumes[m["name"]]
        ro = ":ro" if m.get("readOnly") else ""
        if "hostPath" in v:
            src = (host_paths or {}).get(v["hostPath"]["path"], v["hostPath"]["path"])
            if not os.path.exists(src):
                notes.append(f"hostPath {v['hostPath']['path']} absent here: {m['mountPath']} not mounted")
                continue
            args += ["-v", f"{src}:{m['mountPath']}{ro}"]
        elif "configMap" in v:
            cm_name = v["configMap"]["name"]
            cm = configmaps[cm_name] if configmaps is not None else manifest("ConfigMap", cm_name)
            d = workdir / v["configMap"]["name"]
            d.mkdir(parents=True, exist_ok=True)
            for k, text in (cm.get("data") or {}).items():
                (d / k).write_text(text)
            args += ["-v", f"{d}:{m['mountPath']}{ro}"]
        elif "secret" in v and secrets is not None:
            sec_name = v["secret"]["secretName"]
            d = workdir / f"secret-{sec_name}"
            d.mkdir(parents=True, exist_ok=True)
            for k, b64 in (secrets[sec_name].get("data") or {}).items():
                (d / k).write_bytes(base64.b64decode(b64))
            args += ["-v", f"{d}:{m['mountPath']}{ro}"]
        elif "emptyDir" in v:
            args += ["--tmpfs", m["mountPath"]]
        else:
            raise ValueError(f"volume {m['name']}: unsupported volume type {sorted(v)}")
    return DockerRun(args, c["image"], list(c.get("command") or []) + list(c.get("args") or []), notes)
