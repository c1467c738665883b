# syntax=docker/dockerfile:1
# The gateway image: the wheel and the generated tools are built in the first stage,
# the second runs them as an unprivileged user. See docs/deployment.md.
#
#   docker build -t fastn-gen .
#   docker run -p 8000:8000 -v $PWD/tenants.yaml:/etc/fastn/tenants.yaml:ro fastn-gen
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY fastn_gen ./fastn_gen
COPY templates ./templates
# The wheel and all its dependencies as wheels, installed into a venv that the runtime
# stage copies whole (same base image, so the venv's interpreter path stays valid).
RUN pip wheel --wheel-dir /wheels . \
 && python -m venv /opt/fastn \
 && /opt/fastn/bin/pip install --no-index --find-links /wheels fastn-gen
# Tools are generated at image build time, so the gateway never parses a spec at start.
COPY connectors.d ./connectors.d
RUN /opt/fastn/bin/fastn-gen build --connectors connectors.d --out /opt/generated --quiet

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 fastn \
 && useradd --system --uid 10001 --gid fastn --home-dir /var/lib/fastn --create-home \
      --shell /usr/sbin/nologin fastn
COPY --from=build /opt/fastn /opt/fastn
COPY --from=build /opt/generated /opt/generated
# FASTN_DATA_DIR: the secrets file, digest key and embedded store live in the user's
# home (a volume in production); the tenants file is mounted read-only.
ENV PATH=/opt/fastn/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FASTN_DATA_DIR=/var/lib/fastn
USER fastn
WORKDIR /var/lib/fastn
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["fastn-gen", "serve"]
CMD ["--config", "/etc/fastn/tenants.yaml", "--generated", "/opt/generated", "--host", "0.0.0.0", "--port", "8000", "--log-format", "json"]
