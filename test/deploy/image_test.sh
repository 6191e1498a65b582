#!/usr/bin/env bash
# Builds the image from the Dockerfile and runs it as the cluster would.
#
#   test/deploy/image_test.sh [--tag NAME] [--kubectl PATH]
#
# The build: `docker build` where a Docker engine answers; otherwise buildah
# (Debian's `buildah`, daemonless), with the same Dockerfile. When the base
# images can be neither found locally nor pulled (a machine that reaches only
# Debian's archive), debian:12 and debian:12-slim are made with debootstrap
# --variant=minbase from that archive, as Debian's official images are.
#
# Then, on the image:
#   - its USER is not root;
#   - no -dev package is installed in it, and ldd finds every library of the
#     binary and the plugins;
#   - its default command (validate of the example policies against the
#     example plugins) succeeds;
#   - test/deploy/deployment_run_test.py runs with the image's binary
#     (run_in_image.sh): the Deployment's own args, as deploy/ and the mTLS
#     overlay render them, against the Kubernetes API emulator; the probes
#     answer, the plugins load, the Lease is taken, SIGTERM exits 0.
#
# Not part of scripts/test (it takes 5-10 minutes on 2 cores): CTest runs it
# when configured with -DKUBEAI_IMAGE_TESTS=ON (`ctest -L image`).
set -euo pipefail

source_dir=$(cd "$(dirname "$0")/../.." && pwd)
tag=kubeai-scaler:test
kubectl=kubectl
while [[ $# -gt 0 ]]; do
  case $1 in
    --tag) tag=$2; shift 2 ;;
    --kubectl) kubectl=$2; shift 2 ;;
    *) echo "image_test.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

say() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c" || true; done' EXIT

if docker info >/dev/null 2>&1; then
  builder=docker
elif command -v buildah >/dev/null; then
  builder=buildah
else
  fail "no Docker engine answers and buildah is not installed (apt-get install buildah debootstrap)"
fi
say "building $tag with $builder"

# Runs a command inside the image, as its user, with ldd, dpkg and the like.
in_image() {
  if [[ $builder == docker ]]; then
    docker run --rm --entrypoint "$1" "$tag" "${@:2}"
  else
    chroot --userspec="$user" --groups="${user#*:}" "$rootfs" "$@"
  fi
}

# A field of the image's config (JSON in $config): a string, or a list one item a line.
config_field() {
  /usr/bin/python3 -c 'import json, sys
value = json.loads(sys.argv[1]).get(sys.argv[2]) or ""
print("\n".join(value) if isinstance(value, list) else value)' "$config" "$1"
}

start=$SECONDS
if [[ $builder == docker ]]; then
  docker build -t "$tag" "$source_dir"
  config=$(docker image inspect "$tag" | /usr/bin/python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[0]["Config"]))')
  user=$(config_field User)
  export KUBEAI_IMAGE=$tag
else
  missing=()
  for base in debian:12 debian:12-slim; do
    buildah inspect --type image "docker.io/library/$base" >/dev/null 2>&1 \
      || timeout 120 buildah pull "docker.io/library/$base" >/dev/null 2>&1 \
      || missing+=("$base")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    say "no registry answers: making ${missing[*]} with debootstrap from Debian's archive"
    command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
    work=$(mktemp -d /tmp/kubeai-image-base-XXXXXX)
    cleanup+=("rm -rf '$work'")
    debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap bookworm"; }
    # The sources of Debian's own images: the release, its updates and security.
    rm -f "$work/rootfs/etc/apt/sources.list"
    cat >"$work/rootfs/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin
    base_ctr=$(buildah from scratch)
    cleanup+=("buildah rm '$base_ctr' >/dev/null 2>&1")
    # On a line of its own: set -e does not see a failure inside an argument,
    # and an empty mount point would make the copy's target the host's /.
    base_mnt=$(buildah mount "$base_ctr")
    [[ -n $base_mnt && $base_mnt != / && -d $base_mnt ]] || fail "buildah mount gave '$base_mnt'"
    cp -a "$work/rootfs/." "$base_mnt/"
    buildah umount "$base_ctr" >/dev/null
    buildah config --cmd bash "$base_ctr"
    buildah commit --rm "$base_ctr" "docker.io/library/${missing[0]}" >/dev/null
    for base in "${missing[@]:1}"; do
      buildah tag "docker.io/library/${missing[0]}" "docker.io/library/$base"
    done
  fi
  buildah bud --isolation chroot --pull-never -t "$tag" "$source_dir"
  config=$(buildah inspect --type image "$tag" | /usr/bin/python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["OCIv1"]["config"]))')
  user=$(config_field User)
  ctr=$(buildah from --pull-never "$tag")
  cleanup+=("buildah rm '$ctr' >/dev/null")
  rootfs=$(buildah mount "$ctr")
  [[ -n $rootfs && $rootfs != / && -d $rootfs ]] || fail "buildah mount gave '$rootfs'"
  export KUBEAI_IMAGE_ROOTFS=$rootfs KUBEAI_IMAGE_USER=$user
fi
say "built in $((SECONDS - start)) s; USER $user"

[[ -n $user && ${user%%:*} != 0 && ${user%%:*} != root ]] || fail "the image runs as root (USER '$user')"

dev=$(in_image dpkg-query -W -f '${Package}\n' | grep -E -- '-dev(:|$)' || true)
[[ -z $dev ]] || fail "-dev packages in the runtime image: $dev"
missing=$(in_image ldd /usr/local/bin/kubeai-scaler /etc/kubeai-scaler/plugins/capped_smooth_ratio.so \
  /etc/kubeai-scaler/plugins/step_scale.so | grep 'not found' || true)
[[ -z $missing ]] || fail "libraries missing in the image: $missing"
say "non-root, no -dev packages, every library found"

mapfile -t cmd < <(config_field Cmd)
"$source_dir/test/deploy/run_in_image.sh" "${cmd[@]}" || fail "the image's default command: ${cmd[*]}"
say "the default command succeeds"

/usr/bin/python3 "$source_dir/test/deploy/deployment_run_test.py" --kubectl "$kubectl" \
  --scaler "$source_dir/test/deploy/run_in_image.sh" --plugin-dir /etc/kubeai-scaler/plugins \
  --source-dir "$source_dir"
say "the Deployment's args run in the image"
