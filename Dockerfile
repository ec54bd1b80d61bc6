# GPU image: CUDA 12 + cuDNN 9 runtime, ffmpeg, Node 20, onnxruntime-node with its CUDA execution
# provider, serving the bundled models with `videomae serve --device cuda`.
#   docker build -t videomae .
#   docker run --gpus all -p 8080:8080 -v $PWD/models:/app/models videomae
# No Docker engine runs on our development machines: this file is kept correct by reading.

FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install without lifecycle scripts, then run onnxruntime-node's installer explicitly so that it
# fetches the CUDA 12 provider libraries (libonnxruntime_providers_cuda.so and friends) into
# node_modules/onnxruntime-node/bin/napi-v6/linux/x64/, whatever npm's script policy is.
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY openapi ./openapi
COPY models ./models
# The results page (GET /), bundled into dist/web/ by npm run build.
COPY scripts/build-web.mjs ./scripts/
COPY web ./web
RUN npm run build && npm prune --omit=dev

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# Node from the build stage (Debian 12 glibc 2.36 binary; Ubuntu 24.04 has glibc 2.39).
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/openapi ./openapi
COPY --from=build /app/models ./models
ENV NODE_ENV=production
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:8080/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--device", "cuda"]
