# How `scripts/kube-harness build` builds this module (sourced by scripts/harness-build.sh with
# VERSION set to the version of UPSTREAM in go.mod). This file is part of the cache key: any
# edit here rebuilds.
UPSTREAM=github.com/containerd/containerd/v2
PACKAGES=(
    github.com/containerd/containerd/v2/cmd/containerd
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
    github.com/containerd/containerd/v2/cmd/ctr
)
BINARIES=(containerd containerd-shim-runc-v2 ctr)
CGO_ENABLED=0
# The snapshotters that need C libraries or kernel features these machines lack are left out;
# overlayfs and native remain.
TAGS=(no_btrfs no_devmapper no_zfs)
# As containerd's Makefile stamps them (no git here: the revision is a placeholder).
LDFLAGS=(
    -s -w # no symbol table or DWARF, as release builds (stack traces still work)
    -X "github.com/containerd/containerd/v2/version.Version=$VERSION"
    -X "github.com/containerd/containerd/v2/version.Revision=0000000000000000000000000000000000000000"
    -X "github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd/v2"
)
CHECK=(containerd --version)
