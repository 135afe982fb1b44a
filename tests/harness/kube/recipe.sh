# How `scripts/kube-harness build` builds this module (sourced by scripts/harness-build.sh with
# VERSION set to the version of UPSTREAM in go.mod). This file is part of the cache key: any
# edit here rebuilds.
UPSTREAM=k8s.io/kubernetes
PACKAGES=(
    k8s.io/kubernetes/cmd/kube-apiserver
    k8s.io/kubernetes/cmd/kube-controller-manager
    k8s.io/kubernetes/cmd/kube-scheduler
    k8s.io/kubernetes/cmd/kubelet
    k8s.io/kubernetes/cmd/kube-proxy
    k8s.io/kubernetes/cmd/kubectl
    ./cmd/etcd
)
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
CGO_ENABLED=0 # upstream links all of these statically but kubelet; static is simpler here
TAGS=()
# What hack/lib/version.sh stamps, so the binaries report VERSION and not
# v0.0.0-master+$Format:%H$ (which `kubectl version` cannot parse). No git here: the commit
# and date are fixed placeholders.
minor=${VERSION#v*.}
minor=${minor%%.*}
LDFLAGS=(-s -w) # no symbol table or DWARF, as release builds (stack traces still work)
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LDFLAGS+=(
        -X "$pkg.gitVersion=$VERSION"
        -X "$pkg.gitMajor=1"
        -X "$pkg.gitMinor=$minor"
        -X "$pkg.gitCommit=0000000000000000000000000000000000000000"
        -X "$pkg.gitTreeState=clean"
        -X "$pkg.buildDate=1970-01-01T00:00:00Z"
    )
done
CHECK=(kube-apiserver --version)
