# runway-discord-bot: a small image that runs the bot.
#   docker build -t runway-discord-bot .
#   docker run --rm -e DISCORD_TOKEN=... -e RUNWAY_API_KEY=... \
#       -v "$PWD/config.toml:/app/config.toml:ro" -v runway-bot-data:/app/data runway-discord-bot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 bot
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install . && mkdir -p /app/data && chown bot:bot /app/data

COPY config.example.toml ./config.example.toml
USER bot
VOLUME ["/app/data"]

# SIGTERM stops the worker, releases its leases and closes the database.
STOPSIGNAL SIGTERM
ENTRYPOINT ["runway-bot"]
CMD ["run", "--config", "/app/config.toml"]
