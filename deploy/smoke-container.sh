#!/usr/bin/env bash
# Container smoke test: builds the top-level Dockerfile with buildah, starts actd from the image,
# queries it with the image's own actctl, stops it with SIGTERM and checks that it drained and
# exited 0. Runs without a container engine daemon and without a registry: the two Debian 12 base
# images the Dockerfile names (debian:bookworm, debian:bookworm-slim) are made locally with
# debootstrap from the Debian mirror this machine's apt uses, cached as tarballs under
# $ACTD_SMOKE_CACHE (default /var/cache/actd-smoke) so later runs skip that step, and image layers
# are cached by buildah so a run whose dependency list did not change skips the package installs.
#
# Needs root (debootstrap, buildah with chroot isolation); installs buildah and debootstrap with
# apt-get when they are missing. Every step is bounded by a timeout. A step that cannot run says
# which and why, and the script exits non-zero; it never passes without having run every check.
#
# Usage: deploy/smoke-container.sh          (from anywhere; the build context is the repository)
# Environment: ACTD_SMOKE_CACHE  cache folder for the base-image tarballs
#              ACTD_SMOKE_IMAGE  tag of the image to build (default actd:smoke)
#              ACTD_SMOKE_KEEP_IMAGE=1 keeps the built image (it is kept by default as the
#                                layer cache; 0 removes the tag after the run)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${ACTD_SMOKE_CACHE:-/var/cache/actd-smoke}"
image="${ACTD_SMOKE_IMAGE:-actd:smoke}"
suite=bookworm
# Raise when the way the base root file systems are made changes, so cached tarballs are rebuilt.
recipe=1
export BUILDAH_ISOLATION=chroot

step="start"
started=$SECONDS
containers=()
server_pid=""
workdir="$(mktemp -d /tmp/actd-smoke.XXXXXX)"

log() { printf 'smoke-container [%4ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() {
  printf 'smoke-container: FAILED in step "%s": %s\n' "$step" "$*" >&2
  exit 1
}

cleanup() {
  local rc=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    sleep 1
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  if [ "${ACTD_SMOKE_KEEP_IMAGE:-1}" = 0 ]; then buildah rmi "$image" >/dev/null 2>&1 || true; fi
  if [ $rc -ne 0 ]; then
    echo "smoke-container: step \"$step\" failed (exit $rc) after $((SECONDS - started)) s" >&2
    if [ -s "$workdir/actd.log" ]; then
      echo "--- actd output ---" >&2
      tail -n 40 "$workdir/actd.log" >&2
    fi
  fi
  rm -rf "$workdir"
  exit $rc
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
step="prerequisites"
[ "$(id -u)" -eq 0 ] || fail "must run as root (debootstrap and buildah with chroot isolation need it)"
missing=()
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq || fail "apt-get update failed or timed out"
  timeout 600 apt-get install -y -qq "${missing[@]}" >/dev/null ||
    fail "apt-get install ${missing[*]} failed or timed out"
fi
for tool in buildah debootstrap tar sha256sum timeout; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not available"
done
[ -f "$repo/Dockerfile" ] || fail "no Dockerfile at $repo"

# ---------------------------------------------------------------------------------------------
# Step 1: the base images.
step="base images"

# Prints the URI that apt uses for the given suite (e.g. bookworm, bookworm-security), from the
# one-line (*.list) and deb822 (*.sources) files under /etc/apt; nothing when none serves it.
apt_uri_for_suite() {
  local want="$1" f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v want="$want" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) == want) { print $i; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v want="$want" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " want " ") && uris != "") {
          split(uris, u, " "); print u[1]; found = 1
        }
        types = ""; suites = ""; uris = ""
      }
      /^[ \t]*$/ { flush(); if (found) exit; next }
      /^[Tt]ypes:/  { sub(/^[^:]*:[ \t]*/, ""); types = $0 }
      /^[Ss]uites:/ { sub(/^[^:]*:[ \t]*/, ""); suites = $0 }
      /^URIs:/      { sub(/^[^:]*:[ \t]*/, ""); uris = $0 }
      END { if (!found) flush() }' "$f"
  done | head -n 1
}

mirror="$(apt_uri_for_suite "$suite")"
[ -n "$mirror" ] || fail "no apt source under /etc/apt serves the suite '$suite'; cannot pick a Debian mirror for debootstrap"
security="$(apt_uri_for_suite "$suite-security")"
log "Debian mirror: $mirror${security:+ (security: $security)}"

key="$(printf '%s\n' "$recipe" "$suite" "$mirror" "$security" "$(uname -m)" | sha256sum | cut -c1-16)"
full_tar="$cache/$suite-$key.tar"
slim_tar="$cache/$suite-slim-$key.tar"
mkdir -p "$cache"

make_rootfs_tarballs() {
  local root="$cache/rootfs.$$"
  rm -rf "$root"
  log "debootstrap --variant=minbase $suite from $mirror (first run only; several minutes)"
  if ! timeout 1200 debootstrap --variant=minbase --components=main "$suite" "$root" "$mirror" \
      >"$workdir/debootstrap.log" 2>&1; then
    tail -n 20 "$workdir/debootstrap.log" >&2
    rm -rf "$root"
    fail "debootstrap of $suite from $mirror failed or ran over 20 minutes"
  fi
  # What an official Debian container image carries: sources in deb822 form (release, updates,
  # security), no daemons started by package installs, no cached package lists or archives.
  rm -f "$root/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$mirror" "$suite" "$suite"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [ -n "$security" ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$security" "$suite"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$root/etc/apt/sources.list.d/debian.sources"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  printf 'APT::Install-Recommends "false";\n' >"$root/etc/apt/apt.conf.d/10no-recommends"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  rm -f "$root/etc/hostname" "$root/etc/resolv.conf"
  : >"$root/etc/resolv.conf"
  tar --numeric-owner --xattrs -C "$root" -cf "$full_tar.tmp" \
      --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' . ||
    fail "cannot write $full_tar"
  # The slim variant: documentation, manuals and translations removed and kept out of later
  # package installs, as the upstream slim images do.
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/groff/* "$root"/usr/share/info/* \
         "$root"/usr/share/lintian/* "$root"/usr/share/linda/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  tar --numeric-owner --xattrs -C "$root" -cf "$slim_tar.tmp" \
      --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' . ||
    fail "cannot write $slim_tar"
  mv "$full_tar.tmp" "$full_tar"
  mv "$slim_tar.tmp" "$slim_tar"
  rm -rf "$root"
}

if [ -s "$full_tar" ] && [ -s "$slim_tar" ]; then
  log "base root file systems cached: $full_tar, $slim_tar"
else
  make_rootfs_tarballs
fi

# Imports a root file system tarball as an image named $2, unless the image in storage already
# came from this very tarball (its id is recorded beside the tarball).
import_base() {
  local tarball="$1" ref="$2" stamp="$1.imported" sum id ctr mnt
  sum="$(sha256sum "$tarball" | cut -d' ' -f1)"
  id="$(buildah inspect --type image --format '{{.FromImageID}}' "$ref" 2>/dev/null || true)"
  if [ -n "$id" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum $id" ]; then
    log "$ref is up to date (image ${id:0:12})"
    return
  fi
  log "importing $tarball as $ref"
  ctr="$(buildah from scratch)" || fail "buildah from scratch failed"
  containers+=("$ctr")
  mnt="$(buildah mount "$ctr")" || fail "buildah mount failed"
  timeout 600 tar --numeric-owner --xattrs -xpf "$tarball" -C "$mnt" ||
    fail "cannot unpack $tarball into the new image"
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --cmd bash --os linux --arch "$(dpkg --print-architecture)" "$ctr"
  id="$(buildah commit --quiet --rm "$ctr" "$ref")" || fail "buildah commit $ref failed"
  containers=("${containers[@]/$ctr/}")
  echo "$sum $id" >"$stamp"
}
import_base "$full_tar" docker.io/library/debian:bookworm
import_base "$slim_tar" docker.io/library/debian:bookworm-slim

# ---------------------------------------------------------------------------------------------
# Step 2: the image, from the Dockerfile as it is. BUILDAH_LAYERS keeps intermediate layers, so
# the dependency install is reused while scripts/install-deps.sh does not change.
step="buildah bud"
log "building $image from $repo/Dockerfile"
build_start=$SECONDS
before_build="$(buildah containers --quiet | sort)"
if ! (cd "$repo" && BUILDAH_LAYERS=true timeout 1500 \
      buildah bud --isolation chroot --network host -f Dockerfile -t "$image" .) \
      >"$workdir/build.log" 2>&1; then
  tail -n 60 "$workdir/build.log" >&2
  # A failed step leaves its working container behind; remove the ones this build made.
  for c in $(comm -13 <(echo "$before_build") <(buildah containers --quiet | sort)); do
    buildah rm "$c" >/dev/null 2>&1 || true
  done
  fail "buildah bud failed or ran over 25 minutes (last lines above)"
fi
log "built $image in $((SECONDS - build_start)) s"

step="image checks"
size="$(buildah images --format '{{.Size}}' "$image" | head -n 1)"
log "image size: $size"
inspect() { buildah inspect --type image --format "$1" "$image"; }
[ "$(inspect '{{.OCIv1.Config.User}}')" = "65532:65532" ] ||
  fail "image user is '$(inspect '{{.OCIv1.Config.User}}')', expected 65532:65532"
[ "$(inspect '{{.OCIv1.Config.Entrypoint}}')" = '[actd]' ] ||
  fail "entrypoint is $(inspect '{{.OCIv1.Config.Entrypoint}}'), expected [actd]"
ports="$(inspect '{{range $p, $v := .OCIv1.Config.ExposedPorts}}{{$p}} {{end}}')"
[ "$ports" = "50051/tcp 8000/tcp 8002/tcp " ] || fail "exposed ports are '$ports', expected 50051/tcp 8000/tcp 8002/tcp"
project_version="$(sed -n 's/^project(actd VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")"
label_version="$(inspect '{{index .OCIv1.Config.Labels "org.opencontainers.image.version"}}')"
[ -n "$project_version" ] && [ "$label_version" = "$project_version" ] ||
  fail "label org.opencontainers.image.version is '$label_version', CMakeLists.txt says '$project_version'"
inspect '{{index .OCIv1.Config.Labels "org.opencontainers.image.source"}}' >/dev/null ||
  fail "no org.opencontainers.image.source label"

runner="$(buildah from --pull-never "$image")" || fail "buildah from $image failed"
containers+=("$runner")
run_in() { timeout "$1" buildah run --isolation chroot --network host --user 65532 "$runner" -- "${@:2}"; }
# The runtime image must hold no compiler and no development package.
compilers="$(run_in 30 sh -c 'for c in cc gcc c++ g++ clang; do command -v $c; done; true')" ||
  fail "cannot look for compilers in the image"
[ -z "$compilers" ] || fail "the runtime image contains compilers: $compilers"
packages="$(run_in 30 dpkg-query -W -f '${Package}\n')" || fail "cannot list the image's packages"
grep -qx 'libgrpc++1.51' <<<"$packages" || fail "the runtime image lacks libgrpc++1.51"
dev_pkgs="$(grep -E -- '-dev$' <<<"$packages" || true)"
[ -z "$dev_pkgs" ] || fail "the runtime image contains development packages: $dev_pkgs"
log "runtime image: $(wc -l <<<"$packages") packages, no compiler, no -dev package"
[ "$(run_in 30 id -u)" = 65532 ] || fail "processes in the image do not run as uid 65532"
run_in 30 test -x /bin/sleep || fail "/bin/sleep (used by the Kubernetes preStop hook) is missing"

# ---------------------------------------------------------------------------------------------
# Step 3: actd from the image, on loopback ports that are free now.
step="start actd"
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port="$(free_port)"
metrics_port="$(free_port)"
while [ "$metrics_port" = "$port" ]; do metrics_port="$(free_port)"; done
buildah run --isolation chroot --network host --user 65532 "$runner" -- \
    actd --host 127.0.0.1 --port "$port" --metrics_port "$metrics_port" --http_port 0 --shutdown_grace 5 \
    >"$workdir/actd.log" 2>&1 &
server_pid=$!
log "actd starting on 127.0.0.1:$port (metrics $metrics_port), buildah run pid $server_pid"

# ---------------------------------------------------------------------------------------------
# Step 4: the image's own actctl against it.
step="query with actctl"
client="$(buildah from --pull-never "$image")" || fail "buildah from $image failed"
containers+=("$client")
actctl() {
  timeout 30 buildah run --isolation chroot --network host --user 65532 "$client" -- \
      actctl --target "127.0.0.1:$port" "$@"
}
health=""
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
  kill -0 "$server_pid" 2>/dev/null || fail "actd exited before it served (output below)"
  if health="$(actctl health 2>&1)" && grep -qx 'SERVING' <<<"$health"; then break; fi
  health=""
  sleep 1
done
[ -n "$health" ] || fail "actctl health did not print SERVING within 60 s (last: $(actctl health 2>&1 || true))"
log "health: $health"

# Asserts that the values actctl printed (its text output ends with the tensor as "[v0, v1, ...]",
# after a header line such as "output  float32 [2]") equal the expected ones within 1e-6.
expect_values() {
  local what="$1" output="$2" expected="$3"
  ACTCTL_OUTPUT="$output" /usr/bin/python3 - "$what" "$expected" <<'EOF' ||
import os, re, sys
what, expected = sys.argv[1], [float(v) for v in sys.argv[2].split(",")]
text = os.environ["ACTCTL_OUTPUT"]
lists = re.findall(r"\[([^\[\]]*)\]", text)
try:
    got = [float(v) for v in lists[-1].split(",")] if lists else []
except ValueError:
    got = []
ok = len(got) == len(expected) and all(abs(g - e) <= 1e-6 for g, e in zip(got, expected))
print(f"{what}: got {got}, expected {expected}")
sys.exit(0 if ok else 1)
EOF
    fail "$what printed unexpected values:
$output"
}
out="$(actctl forward relu --values -1,2 2>&1)" || fail "actctl forward relu failed: $out"
expect_values "forward relu [-1, 2]" "$out" "0,2"
out="$(actctl backward sigmoid --values 0 2>&1)" || fail "actctl backward sigmoid failed: $out"
expect_values "backward sigmoid [0]" "$out" "0.25"

# ---------------------------------------------------------------------------------------------
# Step 5: SIGTERM to actd itself (a descendant of the buildah run process), clean exit 0.
step="SIGTERM and drain"
descendants() {
  local p
  for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do echo "$p"; descendants "$p"; done
}
actd_pid=""
for p in $(descendants "$server_pid"); do
  if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = actd ]; then actd_pid=$p; break; fi
done
[ -n "$actd_pid" ] || fail "cannot find the actd process under buildah run (pid $server_pid)"
kill -TERM "$actd_pid"
deadline=$((SECONDS + 30))
while kill -0 "$server_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
if kill -0 "$server_pid" 2>/dev/null; then fail "actd did not exit within 30 s of SIGTERM"; fi
set +e
wait "$server_pid"
rc=$?
set -e
server_pid=""
[ $rc -eq 0 ] || fail "actd exited with status $rc after SIGTERM, expected 0"
grep -q 'draining' "$workdir/actd.log" || fail "actd did not log that it was draining"
log "actd drained and exited 0"

step="done"
log "PASSED: image $image ($size) built, served health/forward/backward, stopped cleanly in $((SECONDS - started)) s"
