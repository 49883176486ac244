# syntax=docker/dockerfile:1

# The fast-autoscaler image: one static binary on a distroless, non-root base.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=v1.2.3 -t fast-autoscaler:v1.2.3 .
#
# The builder always runs on the build machine's own platform and
# cross-compiles for the target: the binary is pure Go (CGO_ENABLED=0), so an
# arm64 image needs no emulation, and the final stage runs no command at all.

FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src

# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
ARG TARGETOS
ARG TARGETARCH
# VERSION is what `fast-autoscaler version` prints: the git tag, or sha-<short
# commit> for a build of the main branch (see .github/workflows/image.yml).
ARG VERSION=dev
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/fast-autoscaler ./cmd/fast-autoscaler

# static-debian12 holds CA certificates, tzdata and a passwd entry for
# "nonroot" (uid 65532), which is all a static Go binary calling HTTPS needs.
FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="fast-autoscaler" \
      org.opencontainers.image.description="Scales AWS ECS services out within seconds of an nginx stub_status spike" \
      org.opencontainers.image.source="https://github.com/fast-autoscaler/fast-autoscaler"
COPY --from=build /out/fast-autoscaler /fast-autoscaler
USER nonroot
# Prometheus /metrics, /healthz and /readyz (-listen, default :9100).
EXPOSE 9100
# The health subcommand queries http://127.0.0.1:9100/healthz, so the image
# needs no curl or shell. ECS ignores this instruction and uses the task
# definition's healthCheck instead (examples/deploy/cloudformation.yaml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/fast-autoscaler", "health"]
ENTRYPOINT ["/fast-autoscaler"]
CMD ["run"]
