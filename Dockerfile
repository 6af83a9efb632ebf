# TracSeq Gateway image. One tag scheme, the version of pyproject.toml:
#
#   docker build -t tracseq-gateway:0.1.0 .                       # production (default target)
#   docker build --target demo -t tracseq-gateway:0.1.0-demo .    # + the sandbox, for compose
#
# Stages: `deps` installs the pinned dependencies alone (from pyproject.toml and
# constraints.txt, so a source change reuses that layer), `build` adds the gateway without
# the sandbox, `build-demo` adds the sandbox, `runtime-base` is the slim unprivileged
# runtime, and `demo` and `runtime` (the last, default target) copy a virtualenv into it.
# The virtualenvs are made without pip, setuptools or wheel.

# python:3.11-slim, pinned by the digest of its multi-platform index; every stage starts here.
FROM python:3.11-slim@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff AS python

FROM python AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# Optional extras baked into the image: "otel" lets TRACSEQ_OTLP_ENDPOINT turn tracing on.
ARG EXTRAS=otel
WORKDIR /src
COPY pyproject.toml constraints.txt ./
# The project's dependencies (and those of EXTRAS), as pyproject.toml lists them, at the
# versions of constraints.txt; installed with the base image's pip into a pip-less venv.
RUN python -c "import sys, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; extras = [e for e in sys.argv[1].split(',') if e]; print('\n'.join(p['dependencies'] + [d for e in extras for d in p['optional-dependencies'][e]]))" "${EXTRAS}" > requirements.txt \
 && python -m venv --without-pip /opt/venv \
 && python -m pip --python /opt/venv/bin/python install -c constraints.txt -r requirements.txt

FROM deps AS build
COPY README.md ./
COPY gateway gateway
COPY graph graph
COPY resolvers resolvers
COPY upstreams upstreams
COPY security security
# No sandbox/ here: the package list of pyproject.toml finds only what is copied, so the
# production wheel has no sandbox package (no fake auth service, demo passwords or faults).
RUN python -m pip --python /opt/venv/bin/python install --no-deps .

FROM build AS build-demo
COPY sandbox sandbox
RUN python -m pip --python /opt/venv/bin/python install --no-deps --force-reinstall .

FROM python AS runtime-base
# VERSION is pyproject.toml's; REVISION the commit: docker build --build-arg REVISION=...
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="tracseq-gateway" \
      org.opencontainers.image.description="One GraphQL graph and a REST passthrough over the TracSeq LIMS services" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim"
# The base image's own pip, setuptools and wheel are not needed at run time either.
RUN PIP_ROOT_USER_ACTION=ignore python -m pip uninstall --yes pip setuptools wheel \
 && groupadd --gid 10001 tracseq \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin tracseq
# TRACSEQ_WORKERS: uvicorn worker processes per container (their metrics are merged).
# TRACSEQ_SHUTDOWN_TIMEOUT: seconds in-flight requests get after SIGTERM; keep it below the
# orchestrator's grace period (Kubernetes: terminationGracePeriodSeconds, 30 by default).
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    TRACSEQ_ENV=production \
    TRACSEQ_HOST=0.0.0.0 \
    TRACSEQ_PORT=8000 \
    TRACSEQ_LOG_FORMAT=json \
    TRACSEQ_WORKERS=2 \
    TRACSEQ_SHUTDOWN_TIMEOUT=20
# A numeric user, so that Kubernetes' runAsNonRoot can verify it. /app is root's and empty:
# nothing the user can write is on the import path (and -P keeps the working directory off
# it in the healthcheck).
USER 10001:10001
WORKDIR /app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-P", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('TRACSEQ_PORT', '8000'), timeout=2)"]
STOPSIGNAL SIGTERM
CMD ["tracseq-gateway", "serve"]

# The compose demo: the same runtime with the sandbox services (`tracseq-gateway sandbox`).
# Never deploy it.
FROM runtime-base AS demo
LABEL org.opencontainers.image.title="tracseq-gateway-demo" \
      org.opencontainers.image.description="TracSeq Gateway with the sandbox services, for demos only"
COPY --from=build-demo /opt/venv /opt/venv

# Production: the gateway alone. The last stage, so the default target.
FROM runtime-base AS runtime
COPY --from=build /opt/venv /opt/venv
