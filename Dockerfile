# membervault's image: the server (default command), the worker and the command line.
# Slim Python, a non-root user, nothing written outside /var/lib/membervault (a volume)
# and /tmp (a tmpfs): runs with a read-only root file system. Settings come from the
# environment (MEMBERVAULT_*). See docs/operations.md.
# The base: python:3.11-slim; another Debian with Python 3.11 and its venv module can stand in
# (scripts/substitute-base-images.sh), hence python3 below, which both have.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    MEMBERVAULT_MODE=production \
    MEMBERVAULT_HOST=0.0.0.0 \
    MEMBERVAULT_PORT=8000 \
    MEMBERVAULT_LOG_FORMAT=json \
    MEMBERVAULT_KEK_FILE=/var/lib/membervault/keys/keyring.json \
    MEMBERVAULT_EXPORT_DIR=/var/lib/membervault/exports \
    MEMBERVAULT_MAILBOX_FILE=/var/lib/membervault/mailbox.txt

RUN groupadd --system --gid 10001 membervault \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin membervault \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/membervault

WORKDIR /app
# An application, not a library: installed editable into its own virtual environment
# (docs/architecture.md), with the OTLP exporter (tracing stays off until
# MEMBERVAULT_OTLP_ENDPOINT is set). Byte code is compiled now: nothing can write it later.
COPY pyproject.toml README.md ./
COPY vaultkernel/ vaultkernel/
COPY audit/ audit/
COPY identity/ identity/
COPY outbox/ outbox/
COPY consent/ consent/
COPY export/ export/
COPY retention/ retention/
COPY subject_requests/ subject_requests/
COPY schema/ schema/
COPY membervault/ membervault/
RUN python3 -m venv /opt/venv \
    && pip install --quiet -e '.[otlp]' \
    && python -m compileall -q /app /opt/venv

USER 10001:10001
VOLUME ["/var/lib/membervault"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
CMD ["membervault", "serve"]
