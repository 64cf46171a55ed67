# syntax=docker/dockerfile:1
# spotcast's production image. test/build-recipe.test.ts runs these same steps (every COPY, RUN,
# ENV and the CMD) in a temporary directory on each `npm test`, so the recipe cannot rot; it
# refuses instructions it does not know, so keep to FROM, ARG, ENV, WORKDIR, COPY, RUN, USER,
# EXPOSE and CMD.

# Build: every dependency (the compiler), then server/ compiled to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# The lockfile names the client/ workspace: npm ci needs its package.json to be there.
COPY package.json package-lock.json ./
COPY client/package.json ./client/
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY server ./server
RUN npm run build

# Runtime: production dependencies only (no tsx, no embedded Postgres), the compiled server, and
# the files it reads at run time (migrations/ applied at start, public/ served at /).
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY client/package.json ./client/
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund
COPY migrations ./migrations
COPY public ./public
COPY --from=build /app/dist ./dist
ARG BUILD_COMMIT=unknown
ENV BUILD_COMMIT=${BUILD_COMMIT}
USER node
# 5000: clients and the load balancer. 9464: METRICS_PORT when set, for Prometheus only.
EXPOSE 5000 9464
CMD ["node", "--enable-source-maps", "dist/server/index.js"]
