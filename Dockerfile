# TracSeq Gateway image: `docker build -t tracseq-gateway .`
#
# Two stages: the first builds a virtualenv with the gateway and its pinned dependencies
# (and byte-compiles them, so each worker starts fast); the second is a slim runtime with
# only that virtualenv, run as an unprivileged user.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Optional extras baked into the image: "otel" lets TRACSEQ_OTLP_ENDPOINT turn tracing on.
ARG EXTRAS=otel
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY gateway gateway
COPY graph graph
COPY resolvers resolvers
COPY upstreams upstreams
COPY security security
COPY sandbox sandbox
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install -c constraints.txt ".[${EXTRAS}]"

FROM python:3.11-slim AS runtime
RUN groupadd --gid 10001 tracseq \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin tracseq
COPY --from=build /opt/venv /opt/venv
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
# A numeric user, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('TRACSEQ_PORT', '8000'), timeout=2)"]
STOPSIGNAL SIGTERM
CMD ["tracseq-gateway", "serve"]
