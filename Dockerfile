# Minimal image for now; the production-grade build (non-root, healthcheck, prebuilt cache) is
# tracked in its own issue.
ARG BASE_IMAGE=node:20-bookworm-slim
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${BASE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production PORT=8080
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY models ./models
COPY reference-sets ./reference-sets
EXPOSE 8080
CMD ["node", "--import", "tsx", "src/cli/ood.ts", "serve"]
