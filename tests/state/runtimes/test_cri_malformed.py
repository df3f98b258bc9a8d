"""Malformed CRI answers: the typed protobuf part is checked by gRPC itself, the free-form part is the
verbose ``info`` JSON a runtime adds to ContainerStatus/PodSandboxStatus. Whatever it holds (not JSON,
JSON of the wrong shape, members of the wrong type), the container is still described from the typed
fields, and the free-form values count as absent."""

from __future__ import annotations

import pytest

from lanner.state.runtimes import cri_api_pb2 as pb
from lanner.state.runtimes.cri import CriEngine

CID = "4b7f0c6a1e2d" + "e" * 52


def status(info: str | None) -> pb.ContainerStatusResponse:
    st = pb.ContainerStatus(id=CID, metadata=pb.ContainerMetadata(name="web"), image=pb.ImageSpec(image="nginx:1.27"),
                            image_ref="docker.io/library/nginx@sha256:" + "a" * 64, created_at=1_700_000_000_000_000_000,
                            labels={"app": "web"})
    return pb.ContainerStatusResponse(status=st, info={} if info is None else {"info": info})


GOOD = '{"privileged": true, "config": {"envs": [{"key": "A", "value": "1"}]}}'


@pytest.mark.parametrize("info", [None, "", "not json {", "[1, 2]", '"text"', "null",
                                  '{"privileged": "yes", "config": {"envs": "A=1", "image": 5}, "runtimeSpec": "x"}',
                                  '{"config": {"envs": [1, "B=2", {"key": "C"}]}, "runtimeSpec": {"annotations": []}}'])
def test_malformed_verbose_info_leaves_the_typed_fields(info: str | None) -> None:
    c = CriEngine("/nonexistent/cri.sock").to_info("containerd", status(info), None)
    assert (c.id, c.full_id, c.name, c.type) == (CID[:12], CID, "web", "containerd")
    assert (c.image, c.image_repo, c.image_tag, c.image_digest) == ("docker.io/library/nginx:1.27",
                                                                    "docker.io/library/nginx", "1.27", "sha256:" + "a" * 64)
    assert c.labels["app"] == "web" and c.created_ns == 1_700_000_000_000_000_000
    assert c.privileged is False
    assert c.env == ([] if info is None or "C" not in info else ["C="])     # an entry without a value


def test_well_formed_verbose_info_is_read() -> None:
    c = CriEngine("/nonexistent/cri.sock").to_info("containerd", status(GOOD), None)
    assert c.privileged is True and c.env == ["A=1"]
