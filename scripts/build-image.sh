#!/usr/bin/env bash
# Builds the fast-autoscaler container image, the same way on a laptop, in CI
# and in the GitHub workflow:
#
#   1. `go build` one static binary per platform (CGO_ENABLED=0, -trimpath, the
#      version stamped) into out/linux_<arch>/fast-autoscaler;
#   2. build Containerfile (FROM scratch, COPY of the right binary) with buildah
#      when it is installed, else with docker buildx.
#
# Usage: scripts/build-image.sh [options] [-- extra builder arguments]
#
#   -t, --tag NAME      image name; repeat for more (default fast-autoscaler:dev)
#   --platform LIST     comma-separated: linux/amd64, linux/arm64 or both
#                       (default: this machine's, linux/$(go env GOARCH))
#   --version V         what `fast-autoscaler version` prints and the
#                       org.opencontainers.image.version label (default $VERSION,
#                       else `git describe --tags --always --dirty`, else dev)
#   --builder B         buildah or docker (default: buildah if found, else docker)
#   --push              push the image (docker buildx only)
#
# With buildah, more than one platform makes a manifest list named after the
# first tag (pushed later with `buildah manifest push --all NAME docker://...`).
# With docker, one platform is loaded into the local image store and several
# are only built unless --push. buildah and podman read their settings from
# $CONTAINERS_CONF, which defaults here to scripts/containers.conf.
#
# Examples:
#   scripts/build-image.sh
#   CONTAINERS_CONF=scripts/containers.conf podman run --rm fast-autoscaler:dev version
#   scripts/build-image.sh --builder docker --platform linux/amd64,linux/arm64 \
#     --version v1.2.3 -t ghcr.io/OWNER/fast-autoscaler:v1.2.3 --push
set -euo pipefail

die() { echo "build-image: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH="$PATH:/usr/local/go/bin"

tags=()
platforms=""
version="${VERSION:-}"
builder=""
push=false
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t | --tag | --platform | --version | --builder)
      [ $# -ge 2 ] || die "$1 needs a value"
      case "$1" in
        -t | --tag) tags+=("$2") ;;
        --platform) platforms=$2 ;;
        --version) version=$2 ;;
        --builder) builder=$2 ;;
      esac
      shift 2
      ;;
    --push) push=true; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

[ ${#tags[@]} -gt 0 ] || tags=(fast-autoscaler:dev)
[ -n "$platforms" ] || platforms="linux/$(go env GOARCH)"
if [ -z "$version" ]; then
  version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
fi
# It goes into -ldflags and a label: keep it to what a tag can hold.
[[ "$version" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || die "version $version: use letters, digits and ._+-"
revision=$(git rev-parse HEAD 2>/dev/null || true)

if [ -z "$builder" ]; then
  if command -v buildah >/dev/null 2>&1; then
    builder=buildah
  elif command -v docker >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; then
    builder=docker
  else
    die "neither buildah nor docker buildx is installed"
  fi
fi
case "$builder" in
  buildah | docker) ;;
  *) die "builder $builder: use buildah or docker" ;;
esac
if $push && [ "$builder" != docker ]; then
  die "--push needs --builder docker; with buildah, use buildah push or buildah manifest push --all"
fi

# 1. The binaries: cross-compiled, no emulation needed.
IFS=, read -r -a plats <<<"$platforms"
for p in "${plats[@]}"; do
  case "$p" in
    linux/amd64 | linux/arm64) ;;
    *) die "platform $p: use linux/amd64 or linux/arm64" ;;
  esac
  arch=${p#linux/}
  out="out/linux_$arch/fast-autoscaler"
  echo "build-image: go build $out ($version)"
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" \
    go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$out" ./cmd/fast-autoscaler
done

# 2. The image.
args=(--platform "$platforms" -f Containerfile --build-arg "VERSION=$version")
[ -z "$revision" ] || args+=(--label "org.opencontainers.image.revision=$revision")

case "$builder" in
  buildah)
    export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/scripts/containers.conf}"
    if [ ${#plats[@]} -eq 1 ]; then
      for t in "${tags[@]}"; do args+=(-t "$t"); done
      buildah bud "${args[@]}" "${extra[@]}" .
    else
      # --manifest adds to an existing list: start from an empty one.
      if buildah manifest exists "${tags[0]}" 2>/dev/null; then
        buildah manifest rm "${tags[0]}" >/dev/null
      fi
      buildah bud "${args[@]}" --manifest "${tags[0]}" "${extra[@]}" .
      for t in "${tags[@]:1}"; do buildah tag "${tags[0]}" "$t"; done
    fi
    echo "build-image: built ${tags[*]} for $platforms with buildah"
    ;;
  docker)
    for t in "${tags[@]}"; do args+=(-t "$t"); done
    if $push; then
      args+=(--push)
    elif [ ${#plats[@]} -eq 1 ]; then
      args+=(--load)
    fi
    docker buildx build "${args[@]}" "${extra[@]}" .
    echo "build-image: built ${tags[*]} for $platforms with docker buildx$($push && echo ', pushed')"
    ;;
esac
