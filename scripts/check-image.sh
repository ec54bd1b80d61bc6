#!/usr/bin/env bash
# Runs the Dockerfile's own build and run commands outside Docker (no Docker engine runs on our
# machines), so that what the image runs is shown to be what its build makes:
#   1. the build context: the repository less .dockerignore, copied to a temporary folder;
#   2. the build stage: each COPY and RUN line of the Dockerfile, read from the Dockerfile and run
#      as written in a folder that stands for /app, with one substitution:
#      ONNXRUNTIME_NODE_INSTALL=cuda12 -> skip (the CUDA provider's download is not reachable here);
#      with NODE_MODULES_FROM=DIR, `npm ci ... --ignore-scripts` is replaced by a copy of DIR with
#      better-sqlite3's build/ removed (what an install without scripts leaves), so that the
#      Dockerfile's `npm rebuild better-sqlite3` must build the addon again;
#   3. the runtime stage: its COPY --from=build lines into a second folder that stands for the
#      runtime's /app (so the service sees only what the image copies), its RUN lines that need no
#      root in an image (apt-get, useradd and friends are listed as skipped, and the programs they
#      install are looked for on this machine instead), ENV;
#   4. ENTRYPOINT + CMD as the Dockerfile's USER (its uid, via setpriv when run as root), with
#      --device cuda -> cpu, --port 8080 -> a free port, --host -> 127.0.0.1, --state-dir /state ->
#      a temporary folder owned by that uid; then GET /readyz must answer 200, the HEALTHCHECK
#      command (port substituted) must exit 0, GET / (the page) must answer 200, the state folder
#      must hold the job database written by that uid, and the bundled models must not be
#      writable by it;
#   5. docker-compose.yml's api and worker commands from the same folder as the same uid, against a
#      local redis-server: a job queued through the api is run by the worker.
# Usage: scripts/check-image.sh   (env: NODE_MODULES_FROM=DIR skips the download; KEEP=1 keeps the folder;
#                                  DOCKERFILE=FILE checks another Dockerfile against this repository)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dockerfile=${DOCKERFILE:-$repo/Dockerfile}
work=$(mktemp -d /tmp/check-image.XXXXXX)
chmod 755 "$work"
server_pid=
started_all=$(date +%s)

cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid" 2>/dev/null || true; fi
  if [[ "${KEEP:-}" == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# A port nothing listens on now (asked of the kernel).
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
say() { printf '[check-image %4ss] %s\n' "$(($(date +%s) - started_all))" "$*"; }
fail() {
  say "FAIL: $*"
  exit 1
}

# --- The Dockerfile as instructions: continuation lines joined, comments dropped; one per line,
# "<stage index> <INSTRUCTION> <arguments>".
instructions=$(awk '
  /^[[:space:]]*#/ { next }
  /^[[:space:]]*$/ { if (line == "") next }
  {
    sub(/^[[:space:]]+/, "", $0)
    if (sub(/\\[[:space:]]*$/, "", $0)) { line = line $0; next }
    line = line $0
    split(line, parts, " ")
    instr = toupper(parts[1])
    if (instr == "FROM") stage++
    rest = substr(line, length(parts[1]) + 2)
    print stage "\t" instr "\t" rest
    line = ""
  }' "$dockerfile")
[[ -n "$instructions" ]] || fail "no instructions read from $dockerfile"

# --- 1. The build context.
context="$work/context"
mkdir -p "$context"
excludes=()
while IFS= read -r pattern; do
  pattern="${pattern%%#*}"
  pattern="${pattern%"${pattern##*[![:space:]]}"}"
  [[ -z "$pattern" ]] && continue
  if [[ "$pattern" == '**/'* ]]; then excludes+=(--no-anchored "--exclude=${pattern#'**/'}"); else excludes+=(--anchored "--exclude=./${pattern#/}"); fi
done <"$repo/.dockerignore"
tar -C "$repo" -cf - "${excludes[@]}" . | tar -C "$context" -xf -
say "context: $(du -sh "$context" | cut -f1) ($(find "$context" -type f | wc -l) files), .dockerignore applied"

# Copies `COPY [--from=build] SRC... DEST` into the stage folder ($1 = source root, $2 = stage root).
copy_line() {
  local from_root=$1 stage_root=$2 workdir=$3
  shift 3
  local args=("$@") dest src target
  dest=${args[-1]}
  unset 'args[-1]'
  if [[ "$dest" == /* ]]; then target="$stage_root$dest"; else target="$stage_root$workdir/$dest"; fi
  for src in "${args[@]}"; do
    [[ -e "$from_root/$src" ]] || fail "COPY source '$src' is not in $(basename "$from_root")"
    if [[ "$dest" == */ || "${#args[@]}" -gt 1 ]]; then
      mkdir -p "$target"
      cp -a "$from_root/$src" "$target/"
    else
      mkdir -p "$(dirname "$target")"
      cp -a "$from_root/$src" "$target"
    fi
  done
}

# Runs one RUN line with sh -c, as Docker does, in the stage's WORKDIR with the stage's ENV.
run_line() {
  local dir=$1 command=$2 started
  started=$(date +%s)
  say "RUN $command"
  (cd "$dir" && env "${stage_env[@]}" sh -c "$command") || fail "RUN exited non-zero: $command"
  say "    done in $(($(date +%s) - started)) s"
}

# --- 2. The build stage (stage 1).
build_root="$work/build-stage"
mkdir -p "$build_root"
workdir=/
stage_env=()
while IFS=$'\t' read -r stage instr rest; do
  [[ "$stage" == 1 ]] || continue
  case "$instr" in
    FROM) say "build stage: FROM $rest (here: this machine, node $(node --version), npm $(npm --version))" ;;
    WORKDIR)
      workdir=$rest
      mkdir -p "$build_root$workdir"
      ;;
    ENV) stage_env+=("${rest/ /=}") ;;
    COPY)
      read -r -a words <<<"$rest"
      copy_line "$context" "$build_root" "$workdir" "${words[@]}"
      say "COPY $rest"
      ;;
    RUN)
      command=${rest//ONNXRUNTIME_NODE_INSTALL=cuda12/ONNXRUNTIME_NODE_INSTALL=skip}
      [[ "$command" != "$rest" ]] && say "(substituted here: ONNXRUNTIME_NODE_INSTALL=cuda12 -> skip)"
      if [[ -n "${NODE_MODULES_FROM:-}" && "$command" =~ ^npm\ ci\ [^\&]*--ignore-scripts\ \&\&\ (.*)$ ]]; then
        say "(substituted here: npm ci --ignore-scripts -> cp -a $NODE_MODULES_FROM, less better-sqlite3/build)"
        cp -a "$NODE_MODULES_FROM" "$build_root$workdir/node_modules"
        rm -rf "$build_root$workdir/node_modules/better-sqlite3/build"
        command=${BASH_REMATCH[1]}
      fi
      run_line "$build_root$workdir" "$command"
      ;;
    *) say "build stage: $instr $rest (nothing to do here)" ;;
  esac
done <<<"$instructions"
build_app="$build_root$workdir"
[[ -f "$build_app/node_modules/better-sqlite3/build/Release/better_sqlite3.node" ]] || fail "the build stage left no better_sqlite3.node"
say "build stage made: $(cd "$build_app" && ls -d dist dist/web models/*/model.onnx 2>/dev/null | tr '\n' ' ')"

# --- 3. The runtime stage (the last one).
last_stage=$(cut -f1 <<<"$instructions" | sort -n | tail -1)
runtime_root="$work/runtime-stage"
mkdir -p "$runtime_root"
workdir=/
stage_env=()
user=
run_uid=
entrypoint=
cmd=
healthcheck=
while IFS=$'\t' read -r stage instr rest; do
  [[ "$stage" == "$last_stage" ]] || continue
  case "$instr" in
    FROM) say "runtime stage: FROM $rest (here: this machine)" ;;
    WORKDIR)
      workdir=$rest
      mkdir -p "$runtime_root$workdir"
      ;;
    ENV) stage_env+=("${rest/ /=}") ;;
    COPY)
      read -r -a words <<<"$rest"
      [[ "${words[0]}" == --from=build ]] || fail "runtime COPY not from the build stage: $rest"
      if [[ "${words[1]}" != /app/* ]]; then
        say "skipped here: COPY $rest (this machine's $(command -v node) stands for it)"
        continue
      fi
      src=${words[1]#/app/}
      copy_line "$build_app" "$runtime_root" "$workdir" "$src" "${words[2]}"
      say "COPY $rest"
      ;;
    RUN)
      if [[ "$rest" =~ apt-get|useradd|userdel|groupadd|groupdel|chown ]]; then
        say "skipped here (image system setup): RUN ${rest:0:110}..."
        if [[ "$rest" =~ --uid\ ([0-9]+) ]]; then run_uid=${BASH_REMATCH[1]}; fi
        if [[ "$rest" =~ apt-get ]]; then
          for program in ffmpeg ffprobe setpriv; do
            command -v "$program" >/dev/null || fail "$program (installed by the image's apt-get) is not on this machine"
          done
          say "    this machine has what it installs: ffmpeg, ffprobe, setpriv"
        fi
        continue
      fi
      run_line "$runtime_root$workdir" "$rest"
      ;;
    USER) user=$rest ;;
    ENTRYPOINT) entrypoint=$rest ;;
    CMD) cmd=$rest ;;
    HEALTHCHECK) healthcheck=${rest#*CMD } ;;
    *) say "runtime stage: $instr $rest (noted)" ;;
  esac
done <<<"$instructions"
[[ -n "$entrypoint" && -n "$cmd" ]] || fail "no ENTRYPOINT/CMD in the runtime stage"
[[ -n "$user" && -n "$run_uid" ]] || fail "the runtime stage sets no USER with a --uid"
app="$runtime_root$workdir"

# --- 4. ENTRYPOINT + CMD as the image's user.
port=$(free_port)
state="$work/state"
tmp="$work/tmp"
mkdir -p "$state" "$tmp"
chown "$run_uid:$run_uid" "$state" "$tmp"
mapfile -t argv < <(node -e '
  const [entry, cmd, port, state] = process.argv.slice(1);
  const args = [...JSON.parse(entry), ...JSON.parse(cmd)];
  const set = (flag, value) => { const i = args.indexOf(flag); if (i < 0) throw new Error("CMD has no " + flag); args[i + 1] = value; };
  set("--device", "cpu"); set("--port", port); set("--host", "127.0.0.1"); set("--state-dir", state);
  console.log(args.join("\n"));' "$entrypoint" "$cmd" "$port" "$state")
as_user=()
if [[ $(id -u) == 0 ]]; then
  as_user=(setpriv "--reuid=$run_uid" "--regid=$run_uid" --clear-groups)
else
  say "not root: the service runs as $(id -un) instead of uid $run_uid"
fi
say "USER $user -> uid $run_uid; starting in $app: ${argv[*]}"
(cd "$app" && exec env "${stage_env[@]}" TMPDIR="$tmp" HOME="$tmp" "${as_user[@]}" "${argv[@]}") >"$work/server.log" 2>&1 &
server_pid=$!

started=$(date +%s)
ready=
while (($(date +%s) - started < 180)); do
  kill -0 "$server_pid" 2>/dev/null || {
    tail -30 "$work/server.log"
    fail "the service exited before /readyz answered"
  }
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)
  if [[ "$code" == 200 ]]; then
    ready=1
    break
  fi
  sleep 1
done
[[ -n "$ready" ]] || {
  tail -30 "$work/server.log"
  fail "GET /readyz did not answer 200 within 180 s"
}
say "GET /readyz: 200 after $(($(date +%s) - started)) s"
say "GET /models: $(curl -s "http://127.0.0.1:$port/models" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);const m=j.models??j;console.log(Array.isArray(m)?m.map(x=>x.name).join(", "):s.slice(0,200))})')"

probe=${healthcheck//8080/$port}
(cd "$app" && "${as_user[@]}" sh -c "$probe") || fail "the HEALTHCHECK command exited non-zero: $probe"
say "HEALTHCHECK command (port $port): exit 0"

code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")
[[ "$code" == 200 ]] || fail "GET / (the page from dist/web) answered $code"
say "GET / (page): 200"

[[ -f "$state/jobs.sqlite" ]] || fail "no jobs.sqlite in the state folder"
owner=$(stat -c %u "$state/jobs.sqlite")
[[ "$owner" == "$run_uid" ]] || fail "jobs.sqlite is owned by uid $owner, not $run_uid"
"${as_user[@]}" touch "$state/.write-probe" || fail "uid $run_uid cannot write the state folder"
say "state folder: writable by uid $run_uid, holds $(cd "$state" && ls -A | tr '\n' ' ')"
if [[ ${#as_user[@]} -gt 0 ]]; then
  if "${as_user[@]}" touch "$app/models/default/.write-probe" 2>/dev/null; then fail "uid $run_uid can write the bundled models"; fi
  say "bundled models: not writable by uid $run_uid"
fi

kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=

# --- 5. docker-compose.yml's api and worker commands on the same runtime folder, as the same uid,
# against a local redis-server (the compose's `redis` service): a job queued through the api
# replica is run by the worker. Hosts, ports and the volumes' paths are substituted.
compose="$repo/docker-compose.yml"
if [[ -f "$compose" ]]; then
  command -v redis-server >/dev/null || fail "redis-server (the compose's redis service) is not on this machine"
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
  redis_pid=$!
  store="$work/store"
  mkdir -p "$store" "$work/state-api" "$work/tmp-worker"
  chown "$run_uid:$run_uid" "$store" "$work/state-api" "$work/tmp-worker"
  api_port=$(free_port)
  # The compose file's commands, read with the yaml package the service depends on.
  mapfile -t api_argv < <(cd "$app" && node -e '
    const { parse } = require("yaml");
    const [file, redis, port, store, state] = process.argv.slice(1);
    const c = parse(require("fs").readFileSync(file, "utf8"), { merge: true });
    const args = [...c.services.api1.command].map(String);
    const set = (flag, value) => { const i = args.indexOf(flag); if (i < 0) throw new Error("api command has no " + flag); args[i + 1] = value; };
    set("--queue", redis); set("--port", port); set("--host", "127.0.0.1"); set("--store", store); set("--state-dir", state);
    args.push("--device", "cpu");
    console.log(args.join("\n"));' "$compose" "redis://127.0.0.1:$redis_port" "$api_port" "$store" "$work/state-api")
  mapfile -t worker_argv < <(cd "$app" && node -e '
    const { parse } = require("yaml");
    const [file, redis, store, models] = process.argv.slice(1);
    const c = parse(require("fs").readFileSync(file, "utf8"), { merge: true });
    const args = [...c.services.worker.command].map(String);
    const set = (flag, value) => { const i = args.indexOf(flag); if (i < 0) throw new Error("worker command has no " + flag); args[i + 1] = value; };
    set("--queue", redis); set("--store", store); set("--models", models);
    args.push("--device", "cpu");
    console.log(args.join("\n"));' "$compose" "redis://127.0.0.1:$redis_port" "$store" "$app/models")
  entry=$(node -e 'console.log(JSON.parse(process.argv[1]).join(" "))' "$entrypoint")
  say "compose api1: $entry ${api_argv[*]}"
  (cd "$app" && exec env "${stage_env[@]}" TMPDIR="$tmp" HOME="$tmp" "${as_user[@]}" $entry "${api_argv[@]}") >"$work/api.log" 2>&1 &
  api_pid=$!
  say "compose worker: $entry ${worker_argv[*]}"
  (cd "$app" && exec env "${stage_env[@]}" TMPDIR="$work/tmp-worker" HOME="$tmp" "${as_user[@]}" $entry "${worker_argv[@]}") >"$work/worker.log" 2>&1 &
  worker_pid=$!
  stop_compose() { kill "$api_pid" "$worker_pid" 2>/dev/null || true; wait "$api_pid" "$worker_pid" 2>/dev/null || true; kill "$redis_pid" 2>/dev/null || true; }
  started=$(date +%s)
  until [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$api_port/readyz" || true)" == 200 ]]; do
    if (($(date +%s) - started > 180)) || ! kill -0 "$api_pid" 2>/dev/null; then
      tail -20 "$work/api.log"
      stop_compose
      fail "the compose's api command did not turn ready"
    fi
    sleep 1
  done
  until grep -q '"msg":"ready"' "$work/worker.log"; do
    if (($(date +%s) - started > 180)) || ! kill -0 "$worker_pid" 2>/dev/null; then
      tail -20 "$work/worker.log"
      stop_compose
      fail "the compose's worker command did not turn ready"
    fi
    sleep 1
  done
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=160x120:rate=25:duration=4 -c:v libx264 -pix_fmt yuv420p "$work/clip.mp4"
  status=$(curl -s -F "video=@$work/clip.mp4" "http://127.0.0.1:$api_port/detect-temporal?wait=true" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).status)}catch{console.log(s.slice(0,200))}})')
  [[ "$status" == succeeded ]] || {
    tail -20 "$work/worker.log"
    stop_compose
    fail "a job through the compose's api and worker ended '$status'"
  }
  owner=$(stat -c %u "$(find "$store/jobs" -name result.json | head -n1)")
  [[ "$owner" == "$run_uid" ]] || {
    stop_compose
    fail "the worker's result is owned by uid $owner, not $run_uid"
  }
  stop_compose
  say "compose: a job queued through api1 ran on the worker (Redis queue, shared store written by uid $run_uid)"
fi
say "OK: the Dockerfile's commands build what its CMD runs (total $(($(date +%s) - started_all)) s)"
