# ood-service image. Two stages: `build` installs the packages (every native one ships prebuilt
# binaries; the optional hnswlib-node, which would compile, is left out for want of a compiler),
# compiles the TypeScript, and warms the default model's cache; the runtime stage gets only what serving
# needs, runs as a non-root user and reports its readiness to Docker.
#
#   docker build -t ood-service .                                   # node:20-bookworm-slim base
#   docker build --build-arg BASE_IMAGE=ood-local/node:20-bookworm .  # a local base, no pulls
#     (scripts/container/make-base-image.sh makes one with debootstrap)
#
# With network access at build time, `npm ci` installs @tensorflow/tfjs-node (it downloads
# libtensorflow) and the native backend is used; offline that optional install fails, npm drops
# it and the service runs on the wasm backend. /models/default and ood_model_runtime_info say
# which one is active.
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /app
# .npmrc skips onnxruntime-node's download of GPU libraries; its CPU build ships in the package.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Source maps of dependencies are about a third of node_modules and never read at run time.
# onnxruntime-node ships its CPU library for every OS (about 220 MB besides Linux's): only this
# platform's is kept.
RUN npx tsc -p tsconfig.build.json \
  && npm prune --omit=dev --no-audit --no-fund \
  && find node_modules -name '*.map' -type f -delete \
  && arch="$(node -p process.arch)" \
  && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 -type d ! -name linux -exec rm -rf {} + \
  && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -type d ! -name "$arch" -exec rm -rf {} +
COPY models ./models
COPY reference-sets ./reference-sets
# Warming builds the graphs and calibration (about 8 s for mnist on 2 cores), so a container
# is ready in seconds. Empty PREBUILD_MODEL skips it; the first start then builds the cache.
ARG PREBUILD_MODEL=mnist
ENV OOD_CACHE_DIR=/app/.cache
RUN mkdir -p "$OOD_CACHE_DIR" \
  && if [ -n "$PREBUILD_MODEL" ]; then node dist/cli/ood.js warm --model "$PREBUILD_MODEL"; fi

FROM ${BASE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production \
  PORT=8080 \
  HOST=0.0.0.0 \
  OOD_CACHE_DIR=/app/.cache
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The gRPC services' definitions, read at start (and the files a client generates its code from).
COPY proto ./proto
COPY --from=build /app/models ./models
COPY --from=build /app/reference-sets ./reference-sets
# The only writable place: a reload or another k rebuilds the cache here.
COPY --from=build --chown=10001:10001 /app/.cache ./.cache
# A numeric user needs no passwd entry, so this works on any base image.
USER 10001:10001
EXPOSE 8080 8081
# /readyz, not /healthz: Docker (and compose's depends_on) should call the container healthy only
# once the model and every graph are loaded. The start period covers a cold build.
HEALTHCHECK --interval=10s --timeout=3s --start-period=240s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "--enable-source-maps", "dist/cli/ood.js", "serve"]
