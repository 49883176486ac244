// Package imagetest holds the container image's test: it builds the image
// with scripts/build-image.sh and buildah, then runs it with podman the way
// an operator runs it on ECS (read-only root filesystem, a non-root user,
// configuration from SSM, SIGTERM to stop) against the in-repo AWS wire
// server (internal/awstest) and a stub_status page on the host network.
//
// The test skips, saying why, when buildah or podman is missing or the user
// is not root; with FAST_AUTOSCALER_REQUIRE_PODMAN=1 (which .ci/run sets) it
// fails instead. It points CONTAINERS_CONF at scripts/containers.conf and
// keeps images and containers in a storage root of its own under a temporary
// directory, so it changes nothing outside the repository and leaves nothing
// behind.
package imagetest
