from tests.docker.infra import docker_engine  # noqa: F401  (fixture for every test under tests/docker)
