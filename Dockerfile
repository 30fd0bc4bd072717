# syntax=docker/dockerfile:1
# smi-metrics-api: SMI Traffic Metrics aggregated API server.
#   docker build -t ghcr.io/smi-metrics-api/smi-metrics-api:dev .
#   docker run --rm -p 6443:6443 ghcr.io/smi-metrics-api/smi-metrics-api:dev \
#     serve --local --bind-address=0.0.0.0 --prometheus-url=http://host.docker.internal:9090

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- build stage
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

# Then the package itself with its query packs (package data; no dependency resolution: they are all
# installed above). The simulator (meshsim/) and the tests stay out of the image.
# pyproject names README.md as the long description; an empty one is enough here.
COPY metrics_api/ metrics_api/
COPY queries/ queries/
RUN touch README.md \
 && pip install --no-deps . \
 && python -c "import metrics_api"

# ---------------------------------------------------------------- runtime stage
FROM ${PYTHON_IMAGE}
# OCI provenance labels, set by the build (CI passes them; see deploy/README.md):
#   docker build --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg SOURCE=https://github.com/<owner>/smi-metrics-api .
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/smi-metrics-api/smi-metrics-api
LABEL org.opencontainers.image.title="smi-metrics-api" \
      org.opencontainers.image.description="SMI Traffic Metrics (metrics.smi-spec.io/v1alpha1) aggregated API server backed by Prometheus" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}"

# Same uid/gid as distroless "nonroot" and as deploy/base/deployment.yaml.
RUN groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin nonroot

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    SMI_METRICS_CERT_DIR=/tmp/certs

COPY --from=build /opt/venv /opt/venv

# Runs with a read-only root filesystem: the only writable path is /tmp (an emptyDir in
# Kubernetes; the generated self-signed pair goes to /tmp/certs).
WORKDIR /tmp
USER 65532:65532
EXPOSE 6443
ENTRYPOINT ["smi-metrics-api"]
CMD ["serve"]
