// Command cnpgi-client dials a CNPG-I plugin the way the CloudNativePG operator does and runs
// the operator's call sequence: GetPluginMetadata, GetPluginCapabilities, each listed service's
// GetCapabilities, Probe, Pre, Post and SetStatusInCluster. It checks that every answer decodes
// with the published cnpg-i stubs and means what the specification says, prints a JSON summary
// on stdout and exits 1 on any mismatch (2 on a usage error).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cloudnative-pg/cnpg-i/pkg/identity"
	"github.com/cloudnative-pg/cnpg-i/pkg/operator"
	"github.com/cloudnative-pg/cnpg-i/pkg/reconciler"
	"google.golang.org/grpc"
)

var allChecks = []string{"probe", "pre", "post", "status"}

func main() {
	address := flag.String("address", "", "host:port of the plugin server (required)")
	serverName := flag.String("server-name", "", "TLS server name: the plugin Service name (required)")
	serverCert := flag.String("server-cert", "", "the server secret's tls.crt; every certificate in it is a trusted root (required)")
	clientCert := flag.String("client-cert", "", "the operator's client certificate, the client secret's tls.crt (required)")
	clientKey := flag.String("client-key", "", "the operator's client key, the client secret's tls.key (required)")
	clusterFile := flag.String("cluster", "", "file with the Cluster JSON sent to Pre, Post and SetStatusInCluster")
	expectName := flag.String("expect-name", "cnpg-i-wal-replica.documentdb.io", "plugin name GetPluginMetadata must return")
	expectPre := flag.String("expect-pre", "BEHAVIOR_CONTINUE", "behavior Pre must return")
	expectPost := flag.String("expect-post", "BEHAVIOR_CONTINUE", "behavior Post must return")
	expectPostError := flag.String("expect-post-error", "", "Post must fail with an error containing this text")
	checks := flag.String("checks", strings.Join(allChecks, ","), "calls to make after loading the plugin: "+strings.Join(allChecks, ","))
	flag.Parse()

	want, err := parseExpectations(*clusterFile, *expectName, *expectPre, *expectPost, *expectPostError, *checks)
	if err == nil {
		for flagName, value := range map[string]string{"address": *address, "server-name": *serverName,
			"server-cert": *serverCert, "client-cert": *clientCert, "client-key": *clientKey} {
			if value == "" {
				err = fmt.Errorf("--%s is required", flagName)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cnpgi-client:", err)
		os.Exit(2)
	}
	r := newRun(*address, *serverName)
	config, err := operatorTLSConfig(*serverCert, *clientCert, *clientKey, *serverName)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cnpgi-client:", err)
		os.Exit(2)
	}
	conn, err := dial(*address, config)
	if err != nil {
		r.fail("dial %s: %v", *address, err)
	} else {
		defer conn.Close()
		r.sequence(context.Background(), conn, want)
	}
	r.summary.OK = len(r.summary.Failures) == 0
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	_ = out.Encode(r.summary)
	if !r.summary.OK {
		os.Exit(1)
	}
}

func parseExpectations(clusterFile, name, pre, post, postError, checks string) (expectations, error) {
	want := expectations{name: name, postError: postError, checks: map[string]bool{}}
	for _, check := range strings.Split(checks, ",") {
		check = strings.TrimSpace(check)
		if check == "" {
			continue
		}
		if !slices.Contains(allChecks, check) {
			return want, fmt.Errorf("--checks: unknown check %q, use some of %s", check, strings.Join(allChecks, ","))
		}
		want.checks[check] = true
	}
	for flagName, value := range map[string]string{"expect-pre": pre, "expect-post": post} {
		number, known := reconciler.ReconcilerHooksResult_Behavior_value[value]
		if !known {
			return want, fmt.Errorf("--%s: unknown behavior %q (e.g. BEHAVIOR_CONTINUE)", flagName, value)
		}
		if flagName == "expect-pre" {
			want.pre = reconciler.ReconcilerHooksResult_Behavior(number)
		} else {
			want.post = reconciler.ReconcilerHooksResult_Behavior(number)
		}
	}
	needsCluster := want.checks["pre"] || want.checks["post"] || want.checks["status"]
	if needsCluster {
		if clusterFile == "" {
			return want, fmt.Errorf("--cluster is required for the pre, post and status checks")
		}
		raw, err := os.ReadFile(clusterFile) //nolint:gosec // path given on the command line
		if err != nil {
			return want, fmt.Errorf("--cluster: %w", err)
		}
		if !json.Valid(raw) {
			return want, fmt.Errorf("--cluster %s: not valid JSON", clusterFile)
		}
		want.clusterRaw = raw
	}
	return want, nil
}

// sequence runs the operator's calls in the operator's order and checks each answer.
func (r *run) sequence(ctx context.Context, conn *grpc.ClientConn, want expectations) {
	if !r.connect(ctx, conn, want) {
		return
	}
	if want.checks["probe"] {
		r.probe(ctx, conn)
	}
	hooksCluster := r.hasService(identity.PluginCapability_Service_TYPE_RECONCILER_HOOKS) && slices.Contains(r.reconcilerKinds, reconciler.ReconcilerHooksCapability_KIND_CLUSTER)
	if (want.checks["pre"] || want.checks["post"]) && !hooksCluster {
		r.fail("pre/post requested but the plugin does not list TYPE_RECONCILER_HOOKS with KIND_CLUSTER, so the operator would never call them")
		return
	}
	if want.checks["pre"] {
		behavior, err := r.hook(ctx, conn, "Pre", want.clusterRaw)
		r.summary.Pre = behavior
		if err != nil {
			r.fail("Pre failed; the operator would block this Cluster's reconcile, failover included: %v", err)
		} else if behavior != want.pre.String() {
			r.fail("Pre answered %s, want %s", behavior, want.pre)
		}
	}
	postOK := true
	if want.checks["post"] {
		behavior, err := r.hook(ctx, conn, "Post", want.clusterRaw)
		r.summary.Post = behavior
		postOK = r.checkPost(behavior, err, want)
	}
	setsStatus := slices.Contains(r.operatorCapabilities, operator.OperatorCapability_RPC_TYPE_SET_STATUS_IN_CLUSTER)
	// The operator calls SetStatusInCluster only after Post hooks that neither failed nor requeued.
	if want.checks["status"] && setsStatus && postOK && r.summary.Post != reconciler.ReconcilerHooksResult_BEHAVIOR_REQUEUE.String() {
		r.setStatus(ctx, conn, want.clusterRaw)
	}
}

func (r *run) checkPost(behavior string, err error, want expectations) bool {
	if err != nil {
		r.summary.PostError = err.Error()
	}
	switch {
	case want.postError != "" && err == nil:
		r.fail("Post answered %s, want an error containing %q", behavior, want.postError)
	case want.postError != "" && !strings.Contains(err.Error(), want.postError):
		r.fail("Post error %q does not contain %q", err.Error(), want.postError)
	case want.postError == "" && err != nil:
		r.fail("Post failed; the Cluster would enter FailurePlugin: %v", err)
	case want.postError == "" && behavior != want.post.String():
		r.fail("Post answered %s, want %s", behavior, want.post)
	}
	return err == nil
}
