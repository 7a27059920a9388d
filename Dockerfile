# The bot's image: `bot serve` by default; docker-compose.yml also runs `bot migrate` and the
# Graph API sink from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BOT_HOST=0.0.0.0 \
    BOT_PORT=8080

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin bot

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY sql ./sql
# Editable, because bot/migrate.py reads the migrations from /app/sql beside the package.
# The code stays owned by root: the bot's user can run it but not change it.
RUN pip install -e .

USER bot
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('BOT_PORT', '8080'), timeout=2)"]
CMD ["bot", "serve"]
