# runway-discord-bot: a small image that runs the bot.
#   docker build -t runway-discord-bot .
#   docker run --rm -e DISCORD_TOKEN=... -e RUNWAY_API_KEY=... \
#       -v "$PWD/config.toml:/app/config.toml:ro" -v runway-bot-data:/app/data runway-discord-bot
# or `docker compose up -d` with compose.yaml.
#
# Reproducible: every dependency comes from requirements/lock.txt (exact versions with
# hashes; refresh it as docs/runbook.md "Refreshing the lock file" says). One stage, no
# compiler: each locked dependency ships a manylinux wheel for CPython 3.11 (x86_64 and
# aarch64), and --only-binary=:all: makes the build fail rather than compile anything.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The bot runs as uid/gid 10001 (numeric, so runtimes that check for non-root can tell).
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/bot \
        --shell /usr/sbin/nologin bot
WORKDIR /app

# Dependency layer: only the lock file, so code changes reuse it. The lock also pins the
# build backend (setuptools, wheel) used for the project below.
COPY requirements/lock.txt /tmp/lock.txt
RUN pip install --no-deps --require-hashes --only-binary=:all: -r /tmp/lock.txt \
    && rm /tmp/lock.txt

# The code, without dependencies (they are all above; pip check proves nothing is missing).
COPY pyproject.toml README.md LICENSE /tmp/src/
COPY bot /tmp/src/bot
COPY cogs /tmp/src/cogs
RUN pip install --no-deps --no-build-isolation /tmp/src \
    && pip check \
    && rm -rf /tmp/src \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data

COPY config.example.toml ./config.example.toml
USER 10001:10001
VOLUME ["/app/data"]

# GET /healthz answers only with `[metrics] enabled = true` in config.toml (it listens on
# 127.0.0.1:9464 inside the container, where this check runs). Without it the container is
# reported unhealthy: enable metrics, or run with --no-healthcheck. No curl in the slim
# image, hence Python; a non-2xx answer or no answer raises, so the exit status is 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]

# SIGTERM stops the worker, releases its leases and closes the database.
STOPSIGNAL SIGTERM
ENTRYPOINT ["runway-bot"]
CMD ["run", "--config", "/app/config.toml"]
