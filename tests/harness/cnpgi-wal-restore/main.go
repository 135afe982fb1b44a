// Command cnpgi-wal-restore is a test-only stand-in for `/controller/manager wal-restore %f %p`,
// the restore_command CloudNativePG 1.30 writes for every instance. It is never part of the
// product. It calls a plugin's cnpgi.wal.v1.WAL/Restore over a unix socket the way the
// instance manager does, with the published github.com/cloudnative-pg/cnpg-i stubs:
//
//	cnpgi-wal-restore --socket <unix socket> --cluster <Cluster JSON file> [--timeout 60s] <wal_name> <destination_path>
//	restore_command = '<binary> --socket /x/y.sock --cluster /x/cluster.json %f %p'
//
// What it mirrors, per invocation (CNPG v1.30.0 sources):
//   - internal/cmd/manager/walrestore/cmd.go: run -> restoreWALViaPlugins; a relative %p is
//     joined to PGDATA (pkg/postgres/wal.go BuildWALPath), here to the working directory,
//     which PostgreSQL sets to the data directory, the same one in a CNPG pod; on failure it
//     sleeps 100 ms before exiting non-zero.
//   - internal/cnpi/plugin/connection/unix.go: grpc.NewClient("unix://<socket>"), insecure,
//     no per-call deadline (the 30 s one in remote.go is for TCP plugins only).
//   - internal/cnpi/plugin/repository/setup.go, connection.go: one fresh connection per
//     process; dial + LoadPlugin + Identity/Probe, retried on any error, 5 attempts, 10 ms
//     backoff x5.
//   - internal/cnpi/plugin/connection/connection.go LoadPlugin: GetPluginMetadata,
//     GetPluginCapabilities, then GetCapabilities of every listed service in its order.
//   - internal/cnpi/plugin/client/wal.go innerRestoreWAL: Restore only when the WAL service
//     lists TYPE_RESTORE_WAL, with cluster_definition, source_wal_name and
//     destination_file_name set; no parameters, no mode. Any error, NotFound included, is
//     just a failure: gRPC codes are not inspected.
//
// Not mirrored: the Cluster comes from --cluster (sent verbatim) instead of the instance
// manager's cache, the plugin is the socket given rather than every enabled plugin found in
// /plugins, the replica check on future .history files (validateTimelineHistoryFile) and the
// in-tree barman-cloud fallback are left out, and --timeout bounds the whole run.
//
// Exit status: 0 when Restore succeeded and the destination file exists; 1 on any gRPC error
// (stderr: "cnpgi-wal-restore: <code>: <message>"), a missing capability or a missing
// destination; 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc/status"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), usage)
		flag.PrintDefaults()
	}
	socket := flag.String("socket", "", "unix socket of the plugin (required)")
	clusterFile := flag.String("cluster", "", "file whose bytes are sent as cluster_definition (required)")
	timeout := flag.Duration("timeout", 60*time.Second, "deadline for the whole run (CNPG sets none)")
	flag.Parse()
	if *socket == "" || *clusterFile == "" || flag.NArg() != 2 || *timeout <= 0 {
		usageError("--socket, --cluster, a positive --timeout and exactly <wal_name> <destination_path> are required")
	}
	cluster, err := os.ReadFile(*clusterFile) //nolint:gosec // path given on the command line
	if err != nil {
		usageError(fmt.Sprintf("--cluster: %v", err))
	}
	walName := flag.Arg(0)
	destination, err := filepath.Abs(flag.Arg(1))
	if err != nil {
		usageError(fmt.Sprintf("destination %q: %v", flag.Arg(1), err))
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	err = restore(ctx, *socket, cluster, walName, destination)
	cancel()
	if err == nil {
		if _, statErr := os.Stat(destination); statErr != nil {
			fmt.Fprintf(os.Stderr, "cnpgi-wal-restore: Restore of %s succeeded but %s is not there: %v\n", walName, destination, statErr)
			os.Exit(1)
		}
		return
	}
	var failed *rpcError
	if errors.As(err, &failed) {
		grpcStatus := status.Convert(failed.err)
		fmt.Fprintf(os.Stderr, "cnpgi-wal-restore: %s: %s\n", grpcStatus.Code(), grpcStatus.Message())
		if failed.method != "WAL/Restore" {
			fmt.Fprintf(os.Stderr, "cnpgi-wal-restore: the failed call was %s (attempt %d of %d)\n", failed.method, failed.attempt, connectAttempts)
		}
	} else {
		fmt.Fprintln(os.Stderr, "cnpgi-wal-restore:", err)
	}
	// walrestore/cmd.go NewCmd: "Waiting 100 ms before retrying", then a non-zero exit.
	time.Sleep(100 * time.Millisecond)
	os.Exit(1)
}

const usage = "usage: cnpgi-wal-restore --socket <unix socket path> --cluster <Cluster JSON file> [--timeout 60s] <wal_name> <destination_path>"

func usageError(message string) {
	fmt.Fprintf(os.Stderr, "cnpgi-wal-restore: %s\n%s\n", message, usage)
	os.Exit(2)
}
