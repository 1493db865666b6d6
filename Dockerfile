# One image for the collector, the controller and the toggle app (docker-compose.yml picks the
# command), for 64-bit Linux: amd64 and arm64 (a Raspberry Pi 4 or 5 on the 64-bit Raspberry Pi
# OS), the platforms the stack's InfluxDB 2.7 image exists for; 32-bit ARM is not supported.
# Two stages: the first installs the project into a virtualenv from wheels only (every dependency
# has wheels for both platforms, so no compiler is needed, and a dependency without one stops the
# build with its name instead of compiling); the runtime stage copies only that virtualenv.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
RUN python -m venv /opt/scc
WORKDIR /src
COPY pyproject.toml README.md ./
COPY common ./common
COPY collector ./collector
COPY controller ./controller
COPY toggle_app ./toggle_app
COPY sim ./sim
COPY scc ./scc
RUN /opt/scc/bin/pip install --no-cache-dir --disable-pip-version-check --only-binary=:all: . \
    && /opt/scc/bin/pip uninstall -y --disable-pip-version-check pip

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/scc/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A fixed uid, so files in the named volumes keep their owner across rebuilds.
RUN groupadd --system --gid 10001 scc \
    && useradd --system --uid 10001 --gid scc --home-dir /var/lib/scc --shell /usr/sbin/nologin scc \
    && mkdir -p /var/lib/scc/spool /run/scc \
    && chown -R scc:scc /var/lib/scc /run/scc
COPY --from=build /opt/scc /opt/scc
USER scc
WORKDIR /var/lib/scc
# The collector and controller rewrite this file every loop (health.heartbeat_file); the compose
# file sets the age limit per service and the toggle app checks /healthz instead.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "common.heartbeat", "/run/scc/heartbeat", "300"]
CMD ["scc", "status"]
