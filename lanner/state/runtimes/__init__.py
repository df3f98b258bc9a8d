"""Clients for container runtimes: each asks one runtime socket about one container.

``docker`` speaks the Docker Engine API (also podman's Docker-compatible API) over a unix socket;
``cri`` speaks the Kubernetes CRI (``runtime.v1``, gRPC) to containerd or CRI-O. Every client turns the
runtime's answer into a :class:`lanner.state.container_info.ContainerInfo`; none of them is called on the
event hot path (the :class:`lanner.state.containers.ContainerManager` worker calls them).
"""
