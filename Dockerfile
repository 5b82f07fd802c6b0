# lastseen in a container: Debian's Python with Debian's Chromium (no browser download needed).

# browsertrix-behaviors (in-page behaviors), the version pinned in package-lock.json.
FROM node:20-bookworm-slim AS behaviors
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-dejavu-core ca-certificates \
       libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 tzdata ffmpeg \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 lastseen
WORKDIR /app
COPY pyproject.toml README.md scrapy.cfg ./
COPY archive ./archive
COPY crawler ./crawler
COPY spiders ./spiders
RUN pip install --no-cache-dir .
COPY --from=behaviors /build/node_modules/browsertrix-behaviors /app/node_modules/browsertrix-behaviors

USER 1000
WORKDIR /data
ENV LASTSEEN_STORE=/data/lastseen-data \
    LASTSEEN_SPOOL=/data/lastseen-spool \
    LASTSEEN_BROWSER=/usr/bin/chromium \
    LASTSEEN_BEHAVIORS_SCRIPT=/app/node_modules/browsertrix-behaviors/dist/behaviors.js
VOLUME ["/data"]
ENTRYPOINT ["lastseen"]
CMD ["--help"]
