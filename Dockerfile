# The station-coding worker image (docker-compose.temporal.yml): node 20 with git, the project built, and the real
# claude and opencode binaries from the npm dependencies. Runs `station-coding worker`; give every container its
# own stable STATION_WORKER_ID and workspaces volume (docs/production.md).
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The package's own `prepare` (the build) cannot run before the sources are here, hence --ignore-scripts; the
# rebuild then runs the dependencies' install scripts (claude's and opencode's fetch their platform binaries).
RUN npm install --no-audit --no-fund --ignore-scripts && npm rebuild --no-audit --no-fund
COPY tsconfig.json ./
# Only the sources the package ships; tsc's test/ and bench/ globs then simply match nothing.
COPY src ./src
COPY bin ./bin
COPY schemas ./schemas
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates openssh-client && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/schemas ./schemas
# Workspaces and the backends' own state live on a volume so they survive a restart of the container.
RUN mkdir -p /var/lib/station-coding && chown node:node /var/lib/station-coding
USER node
ENV NODE_ENV=production \
    STATION_STATE_DIR=/var/lib/station-coding/state
VOLUME /var/lib/station-coding
ENTRYPOINT ["node", "bin/station-coding.js"]
CMD ["worker"]
