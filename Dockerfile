# drift-exporter sidecar: one image, one process, one uvicorn worker.
#
# The exporter keeps its windows and last reports in process memory, so it runs
# exactly one uvicorn worker (`drift-exporter serve` starts it that way); scale
# by running one sidecar per model server, never by adding workers.
#
#   docker build -t drift-exporter .
#   docker run -p 9808:9808 drift-exporter
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Metadata first, then the package: `pip install .` needs both.
COPY pyproject.toml README.md ./
COPY exporter ./exporter
# The client library ships in the same distribution (exporter.client re-exports it).
COPY client/drift_exporter_client ./client/drift_exporter_client
# The example model server and its traffic, for the compose demo (not installed as a package).
COPY examples ./examples
# /profiles: where docker-compose's one-shot `profile` service writes the example model's
# reference; a new named volume mounted there takes this directory's owner, so `drift` can write.
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin drift \
    && install -d -o drift /profiles

USER drift

EXPOSE 9808

HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9808/healthz', timeout=2)"]

CMD ["drift-exporter", "serve", "--host", "0.0.0.0"]
