//go:build tools

// Package tools pins the command this module builds: Rancher's local-path provisioner,
// the dynamic provisioner kind uses, serving the e2e node's default StorageClass.
package tools

import (
	_ "github.com/rancher/local-path-provisioner"
)
