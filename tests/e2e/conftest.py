from tests.docker.infra import docker_engine  # noqa: F401  (session fixture: a running Docker engine)
