# syntax=docker/dockerfile:1
# Production image: `docker build -t ait .`, or `docker compose up --build` with PostgreSQL
# (docker-compose.yml). Set DATABASE_URL to a PostgreSQL; without it the service runs an embedded
# PostgreSQL under DATA_DIR (mount a volume there).

# Build stage: the same `npm ci` + `npm run build` as on a developer machine (a test runs them).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY scripts scripts
COPY prisma prisma
# postinstall generates the Prisma client into src/db/generated (compiled into dist/ below).
RUN npm ci
COPY src src
COPY commands commands
RUN npm run build

# Runtime stage: production dependencies and the compiled service only.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production HTTP_HOST=0.0.0.0 HTTP_PORT=8080 DATA_DIR=/var/lib/ait
WORKDIR /app
RUN groupadd --system ait && useradd --system --gid ait --home-dir /var/lib/ait ait \
 && mkdir -p /var/lib/ait && chown ait:ait /var/lib/ait
# package.json also marks the project root: the service finds prisma/migrations from it.
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts/prisma-generate.mjs scripts/
COPY prisma prisma
RUN npm ci --omit=dev && npm cache clean --force
# dist/ holds the compiled service, the generated Prisma client (dist/src/db/generated) and the
# dashboard's static files (dist/src/http/dashboard).
COPY --from=build /app/dist dist
USER ait
EXPOSE 8080
VOLUME ["/var/lib/ait"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
