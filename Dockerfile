# syntax=docker/dockerfile:1
# Production image. Set DATABASE_URL to a managed PostgreSQL; without it the service runs an
# embedded PostgreSQL under DATA_DIR (mount a volume there).

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts/prisma-generate.mjs scripts/
COPY prisma prisma
# postinstall generates the Prisma client into src/db/generated
RUN npm ci --omit=dev && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production HTTP_HOST=0.0.0.0 HTTP_PORT=8080 DATA_DIR=/var/lib/ait
WORKDIR /app
RUN groupadd --system ait && useradd --system --gid ait --home-dir /var/lib/ait ait \
 && mkdir -p /var/lib/ait && chown ait:ait /var/lib/ait
COPY --from=deps /app/node_modules node_modules
COPY --from=deps /app/src/db/generated src/db/generated
COPY package.json tsconfig.json prisma.config.ts ./
COPY prisma prisma
COPY src src
USER ait
EXPOSE 8080
VOLUME ["/var/lib/ait"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD node -e "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "src/main.ts"]
