//go:build tools

// Package tools pins the commands this module builds.
package tools

import (
	_ "github.com/cloudnative-pg/cloudnative-pg/cmd/kubectl-cnpg"
	_ "github.com/cloudnative-pg/cloudnative-pg/cmd/manager"
)
