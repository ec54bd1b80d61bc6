#!/usr/bin/env bash
# Installs everything this service needs on Debian 12 / Node 20 and builds it:
# Debian's ffmpeg (when missing), npm dependencies (onnxruntime-node's CUDA download skipped
# unless ONNXRUNTIME_NODE_INSTALL says otherwise; better-sqlite3 compiled from source when no
# prebuilt binary can be fetched), Debian's chromium for the browser tests and redis-server for the
# job-queue tests (when missing), the TypeScript build, the page's bundle (dist/web/) and the
# default models' ONNX export.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  echo "setup: installing Debian's ffmpeg"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
fi

# The person-detector tests run on Debian's sample pedestrian video (opencv-doc).
if [ ! -f /usr/share/doc/opencv-doc/examples/data/vtest.avi ]; then
  echo "setup: installing Debian's opencv-doc (sample videos for the tests)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends opencv-doc >/dev/null
fi

# The browser tests drive Debian's chromium with playwright-core (playwright downloads nothing).
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Debian's chromium (browser tests)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

# The job-queue tests run a real Redis (Debian's redis-server, started by each test on a free
# port); `serve --queue redis://...` deployments use any Redis >= 6.2.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "setup: installing Debian's redis-server (job-queue tests)"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null
fi

# The CPU runtime is bundled in the onnxruntime-node package; its install script would fetch the
# CUDA provider from a host that is not reachable here.
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
npm ci --no-audit --no-fund
# better-sqlite3 (the job store) is a native addon built at install time; make sure it loads.
node -e "require('better-sqlite3')" 2>/dev/null || npm rebuild better-sqlite3
npm run build
echo "setup: done ($(ffmpeg -version | head -n1 | cut -d' ' -f1-3), node $(node --version))"
