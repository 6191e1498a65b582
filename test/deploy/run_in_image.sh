#!/usr/bin/env bash
# Runs the image's /usr/local/bin/kubeai-scaler with this script's arguments,
# as the image's own user, so that a test written for the binary
# (deployment_run_test.py --scaler) runs the image instead.
#
# With a Docker engine (KUBEAI_IMAGE set): `docker run` on the host network,
# with /tmp shared, where the tests keep their files.
# Without one (KUBEAI_IMAGE_ROOTFS set, by image_test.sh from `buildah mount`):
# a chroot into the image's root filesystem in a mount namespace of its own
# holding /proc, /dev and the host's /tmp, under the image's USER
# (KUBEAI_IMAGE_USER). Each step execs the next, so the test's SIGTERM reaches
# the server itself, as the kubelet's does (buildah run answers SIGTERM with
# SIGKILL, which would hide how the server shuts down).
set -euo pipefail

# Only /tmp is shared with the image: the test's files must be there.
case "${TMPDIR:-/tmp}" in
  /tmp | /tmp/*) ;;
  *) echo "run_in_image.sh: TMPDIR=$TMPDIR is not under /tmp, the only directory shared with the image" >&2; exit 2 ;;
esac

if [[ -n "${KUBEAI_IMAGE:-}" ]]; then
  exec docker run --rm -i --network host -v /tmp:/tmp ${TMPDIR:+-e TMPDIR="$TMPDIR"} \
    --entrypoint /usr/local/bin/kubeai-scaler "$KUBEAI_IMAGE" "$@"
fi

root=${KUBEAI_IMAGE_ROOTFS:?set KUBEAI_IMAGE (docker) or KUBEAI_IMAGE_ROOTFS and KUBEAI_IMAGE_USER (chroot)}
user=${KUBEAI_IMAGE_USER:?the image USER, uid:gid}
# The image's ENV, then what the test sets (TMPDIR: the pod's /tmp emptyDir).
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TMPDIR="${TMPDIR:-/tmp}" \
  unshare --mount --propagation private -- /bin/sh -c '
    root=$1 user=$2; shift 2
    mount --bind /tmp "$root/tmp"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    exec chroot --userspec="$user" --groups="${user#*:}" "$root" /usr/local/bin/kubeai-scaler "$@"
  ' run_in_image "$root" "$user" "$@"
