package main

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/cloudnative-pg/cnpg-i/pkg/identity"
	"github.com/cloudnative-pg/cnpg-i/pkg/operator"
	"github.com/cloudnative-pg/cnpg-i/pkg/reconciler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// pluginNamePattern is the rule for GetPluginMetadata.name (CNPG-I spec §1.1).
var pluginNamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$`)

// expectations are what the caller says the plugin must answer.
type expectations struct {
	name       string
	pre        reconciler.ReconcilerHooksResult_Behavior
	post       reconciler.ReconcilerHooksResult_Behavior
	postError  string
	checks     map[string]bool
	clusterRaw []byte
}

// connect runs what the operator does for every new pooled connection (LoadPlugin):
// metadata, plugin capabilities, then each listed service's capabilities.
func (r *run) connect(ctx context.Context, conn *grpc.ClientConn, want expectations) bool {
	client := identity.NewIdentityClient(conn)
	var metadata *identity.GetPluginMetadataResponse
	var transport peer.Peer
	err := r.call(ctx, "Identity/GetPluginMetadata", func(ctx context.Context) error {
		var err error
		metadata, err = client.GetPluginMetadata(ctx, &identity.GetPluginMetadataRequest{}, grpc.Peer(&transport))
		return err
	})
	if err != nil {
		r.fail("GetPluginMetadata failed, so the operator could not load the plugin: %v", err)
		return false
	}
	r.recordTLS(transport)
	r.checkMetadata(metadata, want.name)

	var capabilities *identity.GetPluginCapabilitiesResponse
	err = r.call(ctx, "Identity/GetPluginCapabilities", func(ctx context.Context) error {
		var err error
		capabilities, err = client.GetPluginCapabilities(ctx, &identity.GetPluginCapabilitiesRequest{})
		return err
	})
	if err != nil {
		r.fail("GetPluginCapabilities failed, so the operator could not load the plugin: %v", err)
		return false
	}
	r.checkDecoded("Identity/GetPluginCapabilities", capabilities)
	for i, capability := range capabilities.GetCapabilities() {
		if capability.GetService() == nil {
			r.fail("GetPluginCapabilities: capability %d has no service set (the operator dereferences it)", i)
			continue
		}
		serviceType := capability.GetService().GetType()
		r.summary.Capabilities = append(r.summary.Capabilities,
			r.enumName("plugin service", int32(serviceType), identity.PluginCapability_Service_Type_name))
		r.services = append(r.services, serviceType)
	}
	r.loadServiceCapabilities(ctx, conn)
	return true
}

func (r *run) recordTLS(transport peer.Peer) {
	info, ok := transport.AuthInfo.(credentials.TLSInfo)
	if !ok {
		r.fail("the connection is not TLS")
		return
	}
	r.summary.TLSVersion = map[uint16]string{0x0304: "TLS1.3", 0x0303: "TLS1.2"}[info.State.Version]
	if info.State.Version != 0x0304 {
		r.fail("negotiated TLS version %#x, the operator requires TLS 1.3", info.State.Version)
	}
}

func (r *run) checkMetadata(metadata *identity.GetPluginMetadataResponse, wantName string) {
	r.checkDecoded("Identity/GetPluginMetadata", metadata)
	r.summary.Metadata = map[string]any{
		"name": metadata.GetName(), "version": metadata.GetVersion(),
		"displayName": metadata.GetDisplayName(), "description": metadata.GetDescription(),
		"projectUrl": metadata.GetProjectUrl(), "repositoryUrl": metadata.GetRepositoryUrl(),
		"license": metadata.GetLicense(), "licenseUrl": metadata.GetLicenseUrl(),
		"maturity": metadata.GetMaturity(), "vendor": metadata.GetVendor(),
	}
	if metadata.GetName() != wantName {
		r.fail("GetPluginMetadata.name is %q, want %q", metadata.GetName(), wantName)
	}
	if !pluginNamePattern.MatchString(metadata.GetName()) {
		r.fail("GetPluginMetadata.name %q is not a DNS-style name of at most 63 characters", metadata.GetName())
	}
	required := map[string]string{
		"version": metadata.GetVersion(), "display_name": metadata.GetDisplayName(),
		"description": metadata.GetDescription(), "license": metadata.GetLicense(),
		"license_url": metadata.GetLicenseUrl(),
	}
	for field, value := range required {
		if strings.TrimSpace(value) == "" {
			r.fail("GetPluginMetadata.%s is empty; CNPG-I marks it REQUIRED", field)
		}
	}
	if m := metadata.GetMaturity(); m != "" && !slices.Contains([]string{"alpha", "beta", "stable"}, m) {
		r.fail("GetPluginMetadata.maturity %q is not alpha, beta or stable", m)
	}
}

// probe is the ping the operator sends each time it takes a pooled connection.
func (r *run) probe(ctx context.Context, conn *grpc.ClientConn) {
	var res *identity.ProbeResponse
	err := r.call(ctx, "Identity/Probe", func(ctx context.Context) error {
		var err error
		res, err = identity.NewIdentityClient(conn).Probe(ctx, &identity.ProbeRequest{})
		return err
	})
	if err != nil {
		r.fail("Probe failed; the operator would drop the connection: %v", err)
		return
	}
	r.checkDecoded("Identity/Probe", res)
	ready := res.GetReady()
	r.summary.ProbeReady = &ready
}

// hook calls Pre or Post for KIND_CLUSTER with the Cluster as both definitions, as the
// operator does. It returns the behaviour name, or the error text when the call failed.
func (r *run) hook(ctx context.Context, conn *grpc.ClientConn, method string, cluster []byte) (string, error) {
	client := reconciler.NewReconcilerHooksClient(conn)
	request := &reconciler.ReconcilerHooksRequest{ClusterDefinition: cluster, ResourceDefinition: cluster}
	var res *reconciler.ReconcilerHooksResult
	err := r.call(ctx, "ReconcilerHooks/"+method, func(ctx context.Context) error {
		var err error
		if method == "Pre" {
			res, err = client.Pre(ctx, request)
		} else {
			res, err = client.Post(ctx, request)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	r.checkDecoded("ReconcilerHooks/"+method, res)
	name := r.enumName(method+" behavior", int32(res.GetBehavior()), reconciler.ReconcilerHooksResult_Behavior_name)
	if res.GetBehavior() != reconciler.ReconcilerHooksResult_BEHAVIOR_REQUEUE && res.GetRequeueAfter() != 0 {
		r.fail("%s: requeue_after=%d is set without BEHAVIOR_REQUEUE", method, res.GetRequeueAfter())
	}
	return name, nil
}

// setStatus calls SetStatusInCluster and checks the answer the way the operator parses it.
func (r *run) setStatus(ctx context.Context, conn *grpc.ClientConn, cluster []byte) {
	var res *operator.SetStatusInClusterResponse
	err := r.call(ctx, "Operator/SetStatusInCluster", func(ctx context.Context) error {
		var err error
		res, err = operator.NewOperatorClient(conn).SetStatusInCluster(ctx, &operator.SetStatusInClusterRequest{Cluster: cluster})
		return err
	})
	r.summary.StatusCalled = true
	if err != nil {
		r.fail("SetStatusInCluster failed; the Cluster would enter FailurePlugin: %v", err)
		return
	}
	r.checkDecoded("Operator/SetStatusInCluster", res)
	if len(res.GetJsonStatus()) == 0 {
		return
	}
	status := map[string]any{}
	if err := json.Unmarshal(res.GetJsonStatus(), &status); err != nil {
		r.fail("SetStatusInCluster.json_status is not a JSON object (%v): %q", err, res.GetJsonStatus())
		return
	}
	r.summary.Status = status
}
