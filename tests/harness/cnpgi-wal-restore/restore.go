package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cloudnative-pg/cnpg-i/pkg/backup"
	"github.com/cloudnative-pg/cnpg-i/pkg/identity"
	"github.com/cloudnative-pg/cnpg-i/pkg/lifecycle"
	"github.com/cloudnative-pg/cnpg-i/pkg/metrics"
	"github.com/cloudnative-pg/cnpg-i/pkg/operator"
	"github.com/cloudnative-pg/cnpg-i/pkg/postgres"
	"github.com/cloudnative-pg/cnpg-i/pkg/reconciler"
	restorejob "github.com/cloudnative-pg/cnpg-i/pkg/restore/job"
	"github.com/cloudnative-pg/cnpg-i/pkg/wal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// connectAttempts and firstBackoff are repository/connection.go connectionBackoff
// (Steps 5, Duration 10 ms, Factor 5; its 10 % jitter is left out): sleeps of 10, 50, 250
// and 1250 ms between five attempts.
const (
	connectAttempts = 5
	firstBackoff    = 10 * time.Millisecond
)

// rpcError is a failed gRPC call: err is the untouched gRPC error, so its status code and
// message survive.
type rpcError struct {
	method  string
	attempt int
	err     error
}

func (e *rpcError) Error() string { return fmt.Sprintf("%s: %v", e.method, e.err) }

// restore is restoreWALViaPlugins for the one plugin on socket.
func restore(ctx context.Context, socket string, cluster []byte, walName, destination string) error {
	var conn *grpc.ClientConn
	var walCapabilities []wal.WALCapability_RPC_Type
	var err error
	delay := firstBackoff
	for attempt := 1; attempt <= connectAttempts; attempt++ {
		if attempt > 1 {
			time.Sleep(delay)
			delay *= 5
		}
		conn, walCapabilities, err = connect(ctx, socket)
		if err == nil {
			break
		}
		var failed *rpcError
		if errors.As(err, &failed) {
			failed.attempt = attempt
		}
	}
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()

	// client/wal.go innerRestoreWAL skips a plugin without TYPE_RESTORE_WAL; CNPG then falls
	// back to the in-tree barman-cloud restore, which fails when none is configured.
	if !slices.Contains(walCapabilities, wal.WALCapability_RPC_TYPE_RESTORE_WAL) {
		return fmt.Errorf("the plugin lists no TYPE_WAL_SERVICE with TYPE_RESTORE_WAL (WAL capabilities: %v): CNPG would not call Restore", walCapabilities)
	}
	_, err = wal.NewWALClient(conn).Restore(ctx, &wal.WALRestoreRequest{
		ClusterDefinition:   cluster,
		SourceWalName:       walName,
		DestinationFileName: destination,
	})
	if err != nil {
		return &rpcError{method: "WAL/Restore", err: err}
	}
	return nil
}

// connect is one attempt of repository.GetConnection on a fresh pool: dial
// (connection/unix.go), connection.LoadPlugin, then Ping (Identity/Probe; only its error
// counts, not ready). It returns the WAL capabilities LoadPlugin recorded.
func connect(ctx context.Context, socket string) (*grpc.ClientConn, []wal.WALCapability_RPC_Type, error) {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, fmt.Errorf("dial unix://%s: %w", socket, err)
	}
	walCapabilities, err := loadPlugin(ctx, conn)
	if err == nil {
		_, err = identity.NewIdentityClient(conn).Probe(ctx, &identity.ProbeRequest{})
		err = wrap("Identity/Probe", err)
	}
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	return conn, walCapabilities, nil
}

// loadPlugin is connection.LoadPlugin: metadata, the list of services, then each listed
// service's GetCapabilities in LoadPlugin's order. Any failure fails the load.
func loadPlugin(ctx context.Context, conn *grpc.ClientConn) ([]wal.WALCapability_RPC_Type, error) {
	id := identity.NewIdentityClient(conn)
	if _, err := id.GetPluginMetadata(ctx, &identity.GetPluginMetadataRequest{}); err != nil {
		return nil, wrap("Identity/GetPluginMetadata", err)
	}
	listed, err := id.GetPluginCapabilities(ctx, &identity.GetPluginCapabilitiesRequest{})
	if err != nil {
		return nil, wrap("Identity/GetPluginCapabilities", err)
	}
	var services []identity.PluginCapability_Service_Type
	for _, capability := range listed.GetCapabilities() {
		services = append(services, capability.GetService().GetType())
	}

	var walCapabilities []wal.WALCapability_RPC_Type
	loaders := []struct {
		service identity.PluginCapability_Service_Type
		method  string
		call    func() error
	}{
		{identity.PluginCapability_Service_TYPE_OPERATOR_SERVICE, "Operator/GetCapabilities", func() error {
			_, err := operator.NewOperatorClient(conn).GetCapabilities(ctx, &operator.OperatorCapabilitiesRequest{})
			return err
		}},
		{identity.PluginCapability_Service_TYPE_LIFECYCLE_SERVICE, "OperatorLifecycle/GetCapabilities", func() error {
			_, err := lifecycle.NewOperatorLifecycleClient(conn).GetCapabilities(ctx, &lifecycle.OperatorLifecycleCapabilitiesRequest{})
			return err
		}},
		{identity.PluginCapability_Service_TYPE_WAL_SERVICE, "WAL/GetCapabilities", func() error {
			res, err := wal.NewWALClient(conn).GetCapabilities(ctx, &wal.WALCapabilitiesRequest{})
			for _, capability := range res.GetCapabilities() {
				walCapabilities = append(walCapabilities, capability.GetRpc().GetType())
			}
			return err
		}},
		{identity.PluginCapability_Service_TYPE_BACKUP_SERVICE, "Backup/GetCapabilities", func() error {
			_, err := backup.NewBackupClient(conn).GetCapabilities(ctx, &backup.BackupCapabilitiesRequest{})
			return err
		}},
		{identity.PluginCapability_Service_TYPE_RECONCILER_HOOKS, "ReconcilerHooks/GetCapabilities", func() error {
			_, err := reconciler.NewReconcilerHooksClient(conn).GetCapabilities(ctx, &reconciler.ReconcilerHooksCapabilitiesRequest{})
			return err
		}},
		{identity.PluginCapability_Service_TYPE_RESTORE_JOB, "RestoreJobHooks/GetCapabilities", func() error {
			_, err := restorejob.NewRestoreJobHooksClient(conn).GetCapabilities(ctx, &restorejob.RestoreJobHooksCapabilitiesRequest{})
			return err
		}},
		{identity.PluginCapability_Service_TYPE_POSTGRES, "Postgres/GetCapabilities", func() error {
			_, err := postgres.NewPostgresClient(conn).GetCapabilities(ctx, &postgres.PostgresCapabilitiesRequest{})
			return err
		}},
		{identity.PluginCapability_Service_TYPE_METRICS, "Metrics/GetCapabilities", func() error {
			_, err := metrics.NewMetricsClient(conn).GetCapabilities(ctx, &metrics.MetricsCapabilitiesRequest{})
			return err
		}},
	}
	for _, loader := range loaders {
		if slices.Contains(services, loader.service) {
			if err := loader.call(); err != nil {
				return nil, wrap(loader.method, err)
			}
		}
	}
	return walCapabilities, nil
}

func wrap(method string, err error) error {
	if err == nil {
		return nil
	}
	return &rpcError{method: method, err: err}
}
