# The paynet-gateway image: the worker, the one-shot migration and Flower (docker-compose.yml and
# deploy/kubernetes pick the command). Build: docker build -t paynet-gateway .
# Stage 1 builds the project's wheel from the production code only (no simulator, development
# services, tests or tools); stage 3 installs it on the locked dependencies and nothing else.
# The simulator stage is Compose's --profile dev only: docker build --target simulator.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE celeryconfig.py ./
COPY worker ./worker
COPY tasks ./tasks
COPY migrations ./migrations
RUN pip wheel --no-deps --wheel-dir /wheels .

# Compose's dev profile: the Paynet simulator, from the whole checkout (never deployed).
FROM python:3.11-slim AS simulator
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
COPY . .
RUN pip install --no-deps . && useradd --system --uid 10001 --home-dir /app paynet
USER 10001
CMD ["paynet-gateway", "simulator", "--host", "0.0.0.0", "--port", "8765"]

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The locked versions first (a layer that changes only with the lock), then the wheel, which
# adds nothing they do not pin.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-deps -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl && rm -r /tmp/wheels \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin paynet
COPY config.yaml /etc/paynet/config.yaml

# The settings file, the probe files' directory (the worker's --probe-dir) and the slots of a
# worker (Celery reads CELERY_WORKER_CONCURRENCY for --concurrency): all three are the
# environment's to change. LOG_LEVEL (config.yaml) sets the level: no --loglevel below.
ENV PAYNET_CONFIG=/etc/paynet/config.yaml \
    PAYNET_PROBE_DIR=/tmp/paynet-probe \
    CELERY_WORKER_CONCURRENCY=4 \
    LOG_LEVEL=INFO
WORKDIR /tmp
USER 10001

# A worker's liveness, from the files it writes (worker/probes): no broker round trip. Other
# commands of this image (migrate, Flower) get their own check, or none, from Compose.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "worker.probes", "live"]

CMD ["celery", "-A", "worker", "worker", "--hostname", "celery@%h"]
