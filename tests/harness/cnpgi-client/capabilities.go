package main

import (
	"context"
	"fmt"

	"github.com/cloudnative-pg/cnpg-i/pkg/backup"
	"github.com/cloudnative-pg/cnpg-i/pkg/identity"
	"github.com/cloudnative-pg/cnpg-i/pkg/lifecycle"
	"github.com/cloudnative-pg/cnpg-i/pkg/metrics"
	"github.com/cloudnative-pg/cnpg-i/pkg/operator"
	"github.com/cloudnative-pg/cnpg-i/pkg/postgres"
	"github.com/cloudnative-pg/cnpg-i/pkg/reconciler"
	"github.com/cloudnative-pg/cnpg-i/pkg/restore/job"
	"github.com/cloudnative-pg/cnpg-i/pkg/wal"
	"google.golang.org/grpc"
)

// serviceLoader calls one service's GetCapabilities and returns the capability names.
type serviceLoader func(ctx context.Context, conn *grpc.ClientConn, r *run) ([]string, error)

// serviceOrder is the order in which the operator loads the capabilities of every listed
// service at connect time (cnpg internal/cnpi/plugin/connection/connection.go LoadPlugin).
var serviceOrder = []identity.PluginCapability_Service_Type{
	identity.PluginCapability_Service_TYPE_OPERATOR_SERVICE,
	identity.PluginCapability_Service_TYPE_LIFECYCLE_SERVICE,
	identity.PluginCapability_Service_TYPE_WAL_SERVICE,
	identity.PluginCapability_Service_TYPE_BACKUP_SERVICE,
	identity.PluginCapability_Service_TYPE_RECONCILER_HOOKS,
	identity.PluginCapability_Service_TYPE_RESTORE_JOB,
	identity.PluginCapability_Service_TYPE_POSTGRES,
	identity.PluginCapability_Service_TYPE_METRICS,
}

var serviceLoaders = map[identity.PluginCapability_Service_Type]serviceLoader{
	identity.PluginCapability_Service_TYPE_OPERATOR_SERVICE: func(ctx context.Context, c *grpc.ClientConn, r *run) ([]string, error) {
		res, err := operator.NewOperatorClient(c).GetCapabilities(ctx, &operator.OperatorCapabilitiesRequest{})
		if err != nil {
			return nil, err
		}
		names := []string{}
		for i, capability := range res.GetCapabilities() {
			if capability.GetRpc() == nil {
				r.fail("Operator/GetCapabilities: capability %d has no rpc set (the operator dereferences it)", i)
				continue
			}
			names = append(names, r.enumName("Operator capability", int32(capability.GetRpc().GetType()), operator.OperatorCapability_RPC_Type_name))
			r.operatorCapabilities = append(r.operatorCapabilities, capability.GetRpc().GetType())
		}
		r.checkDecoded("Operator/GetCapabilities", res)
		return names, nil
	},
	identity.PluginCapability_Service_TYPE_LIFECYCLE_SERVICE: func(ctx context.Context, c *grpc.ClientConn, r *run) ([]string, error) {
		res, err := lifecycle.NewOperatorLifecycleClient(c).GetCapabilities(ctx, &lifecycle.OperatorLifecycleCapabilitiesRequest{})
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, capability := range res.GetLifecycleCapabilities() {
			for _, operation := range capability.GetOperationTypes() {
				verb := r.enumName("lifecycle operation", int32(operation.GetType()), lifecycle.OperatorOperationType_Type_name)
				names = append(names, fmt.Sprintf("%s/%s:%s", capability.GetGroup(), capability.GetKind(), verb))
			}
		}
		r.checkDecoded("OperatorLifecycle/GetCapabilities", res)
		return names, nil
	},
	identity.PluginCapability_Service_TYPE_WAL_SERVICE: func(ctx context.Context, c *grpc.ClientConn, r *run) ([]string, error) {
		res, err := wal.NewWALClient(c).GetCapabilities(ctx, &wal.WALCapabilitiesRequest{})
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, capability := range res.GetCapabilities() {
			names = append(names, r.enumName("WAL capability", int32(capability.GetRpc().GetType()), wal.WALCapability_RPC_Type_name))
		}
		r.checkDecoded("WAL/GetCapabilities", res)
		return names, nil
	},
	identity.PluginCapability_Service_TYPE_BACKUP_SERVICE: func(ctx context.Context, c *grpc.ClientConn, r *run) ([]string, error) {
		res, err := backup.NewBackupClient(c).GetCapabilities(ctx, &backup.BackupCapabilitiesRequest{})
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, capability := range res.GetCapabilities() {
			names = append(names, r.enumName("Backup capability", int32(capability.GetRpc().GetType()), backup.BackupCapability_RPC_Type_name))
		}
		r.checkDecoded("Backup/GetCapabilities", res)
		return names, nil
	},
	identity.PluginCapability_Service_TYPE_RECONCILER_HOOKS: func(ctx context.Context, c *grpc.ClientConn, r *run) ([]string, error) {
		res, err := reconciler.NewReconcilerHooksClient(c).GetCapabilities(ctx, &reconciler.ReconcilerHooksCapabilitiesRequest{})
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, capability := range res.GetReconcilerCapabilities() {
			names = append(names, r.enumName("reconciler hook kind", int32(capability.GetKind()), reconciler.ReconcilerHooksCapability_Kind_name))
			r.reconcilerKinds = append(r.reconcilerKinds, capability.GetKind())
		}
		r.checkDecoded("ReconcilerHooks/GetCapabilities", res)
		return names, nil
	},
	identity.PluginCapability_Service_TYPE_RESTORE_JOB: func(ctx context.Context, c *grpc.ClientConn, r *run) ([]string, error) {
		res, err := job.NewRestoreJobHooksClient(c).GetCapabilities(ctx, &job.RestoreJobHooksCapabilitiesRequest{})
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, capability := range res.GetCapabilities() {
			names = append(names, r.enumName("restore job kind", int32(capability.GetKind()), job.RestoreJobHooksCapability_Kind_name))
		}
		r.checkDecoded("RestoreJobHooks/GetCapabilities", res)
		return names, nil
	},
	identity.PluginCapability_Service_TYPE_POSTGRES: func(ctx context.Context, c *grpc.ClientConn, r *run) ([]string, error) {
		res, err := postgres.NewPostgresClient(c).GetCapabilities(ctx, &postgres.PostgresCapabilitiesRequest{})
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, capability := range res.GetCapabilities() {
			names = append(names, r.enumName("Postgres capability", int32(capability.GetRpc().GetType()), postgres.PostgresCapability_RPC_Type_name))
		}
		r.checkDecoded("Postgres/GetCapabilities", res)
		return names, nil
	},
	identity.PluginCapability_Service_TYPE_METRICS: func(ctx context.Context, c *grpc.ClientConn, r *run) ([]string, error) {
		res, err := metrics.NewMetricsClient(c).GetCapabilities(ctx, &metrics.MetricsCapabilitiesRequest{})
		if err != nil {
			return nil, err
		}
		names := []string{}
		for _, capability := range res.GetCapabilities() {
			names = append(names, r.enumName("Metrics capability", int32(capability.GetRpc().GetType()), metrics.MetricsCapability_RPC_Type_name))
		}
		r.checkDecoded("Metrics/GetCapabilities", res)
		return names, nil
	},
}

// loadServiceCapabilities calls GetCapabilities of every listed service in the operator's
// order. As in the operator, an error from any listed service fails the whole plugin load.
func (r *run) loadServiceCapabilities(ctx context.Context, conn *grpc.ClientConn) {
	for _, service := range serviceOrder {
		if !r.hasService(service) {
			continue
		}
		name := service.String()
		var names []string
		err := r.call(ctx, name+"/GetCapabilities", func(ctx context.Context) error {
			var err error
			names, err = serviceLoaders[service](ctx, conn, r)
			return err
		})
		if err != nil {
			r.fail("%s is listed but its GetCapabilities failed, so the operator could not load the plugin: %v", name, err)
			continue
		}
		r.summary.ServiceCapabilities[name] = names
	}
}
