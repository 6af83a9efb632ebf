# Multi-stage: build the wheel and its dependencies in one stage, run as non-root in a slim one.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY gateway gateway
COPY graph graph
COPY resolvers resolvers
COPY upstreams upstreams
COPY security security
COPY sandbox sandbox
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 tracseq
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    TRACSEQ_HOST=0.0.0.0 \
    TRACSEQ_PORT=8000 \
    TRACSEQ_ENV=production
USER tracseq
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,os; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('TRACSEQ_PORT','8000'), timeout=2)"
CMD ["tracseq-gateway", "serve"]
