// Command etcd is the etcd server of the module graph that kube-apiserver was built with,
// so the test control plane needs no etcd from elsewhere.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
