#!/usr/bin/env bash
# Set up container on this machine and start it:
#   installs missing OS packages (apt-get), checks Go, builds, installs
#   under $PREFIX (default /usr/local), (re)starts the apiserver, shows
#   its status, builds the image local/busybox:latest from Debian's static
#   busybox (no registry needed) and runs a container from it. Run it as
#   root or with sudo available. Safe to run again. The roots follow
#   CONTAINER_APP_ROOT, CONTAINER_STATE_ROOT, CONTAINER_LOG_ROOT as the
#   CLI does.
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX="${PREFIX:-/usr/local}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "setup.sh: run as root (or install sudo)" >&2; exit 1; }
	SUDO="sudo"
fi

# Runtime needs: an OCI runtime, iptables/iproute2 for networks, a static
# busybox for tests and examples. protoc is not needed to build.
packages=(ca-certificates git make runc busybox-static iptables iproute2 util-linux procps)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "==> installing ${missing[*]}"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
fi

export PATH="${PATH}:/usr/local/go/bin"
if ! command -v go >/dev/null; then
	echo "setup.sh: Go is not installed. Install Go 1.21 or newer (https://go.dev/dl/) into /usr/local/go;" >&2
	echo "the exact toolchain go.mod asks for is then fetched automatically." >&2
	exit 1
fi
minor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
if [ "${minor:-0}" -lt 21 ]; then
	echo "setup.sh: $(go env GOVERSION) is too old; need Go 1.21 or newer" >&2
	exit 1
fi

echo "==> building"
make build
echo "==> installing under ${PREFIX}"
$SUDO make install-only PREFIX="${PREFIX}"

# sudo resets the environment: hand the roots to the CLI explicitly.
roots_env=()
for v in CONTAINER_APP_ROOT CONTAINER_STATE_ROOT CONTAINER_LOG_ROOT; do
	if [ -n "${!v:-}" ]; then roots_env+=("$v=${!v}"); fi
done
container() { $SUDO env "${roots_env[@]}" "${PREFIX}/bin/container" "$@"; }

echo "==> starting the apiserver"
# Restart so that the binaries just installed are the ones running.
# Stopping the apiserver does not stop containers.
container system stop >/dev/null
container system start
container system status

echo "==> building the image local/busybox:latest from /bin/busybox"
rootfs="$(mktemp -d)"
trap 'rm -rf "${rootfs}"' EXIT
mkdir -p "${rootfs}/fs/bin" "${rootfs}/fs/etc" "${rootfs}/fs/tmp" "${rootfs}/fs/root" \
	"${rootfs}/fs/proc" "${rootfs}/fs/sys" "${rootfs}/fs/dev"
chmod 1777 "${rootfs}/fs/tmp"
cp /bin/busybox "${rootfs}/fs/bin/busybox"
for applet in $(/bin/busybox --list); do
	[ "${applet}" = busybox ] || ln -s busybox "${rootfs}/fs/bin/${applet}"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"${rootfs}/fs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"${rootfs}/fs/etc/group"
tar -C "${rootfs}/fs" --numeric-owner --owner=0 --group=0 -cf "${rootfs}/rootfs.tar" .
container image import "${rootfs}/rootfs.tar" local/busybox:latest

echo "==> running a container"
container run --rm local/busybox echo hello from container
