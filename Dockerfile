# One image for every paynet-gateway service: the worker, the one-shot migration, Flower and the
# development simulator (docker-compose.yml picks the command). Build: docker build -t paynet-gateway .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md celeryconfig.py config.yaml ./
COPY worker ./worker
COPY tasks ./tasks
COPY migrations ./migrations
COPY simulator ./simulator
COPY devservices ./devservices
# Editable, so that config.yaml and the migrations are found beside the code in /app.
RUN pip install -e ".[ops]"

# No root at run time; /app stays read-only to the services.
RUN useradd --system --uid 10001 --home-dir /app paynet
USER paynet

CMD ["celery", "-A", "worker", "worker", "--loglevel", "INFO"]
