// Command controller runs cert-manager's controllers for the SelfSigned and CA issuers.
//
// cert-manager's own controller command lives in a separate module
// (github.com/cert-manager/cert-manager/controller-binary, directory cmd/controller, with a
// replace of the main module to ../../) that the Go module proxy cannot serve. This command
// is the harness's stand-in: upstream's controllers from the main module's
// github.com/cert-manager/cert-manager/pkg/controller/... packages, registered with and built
// by upstream's controller.ContextFactory exactly as upstream's command does, and started
// with upstream's defaults. What it leaves out: leader election, the metrics and health
// servers, the ACME, Vault and Venafi issuers, the ingress and Gateway shims, and
// configuration files. Flags keep upstream's names.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/cert-manager/cert-manager/pkg/controller"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
)

func main() {
	opts := controller.ContextOptions{}
	flag.StringVar(&opts.APIServerHost, "master", "", "address of the Kubernetes API server (overrides the kubeconfig)")
	flag.StringVar(&opts.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster configuration)")
	flag.StringVar(&opts.Namespace, "namespace", "", "only watch this namespace (default: all)")
	flag.StringVar(&opts.ClusterResourceNamespace, "cluster-resource-namespace", "kube-system",
		"namespace of the secrets that ClusterIssuers refer to")
	flag.BoolVar(&opts.EnableOwnerRef, "enable-certificate-owner-ref", false,
		"make each Certificate the owner of its Secret (deleted with it)")
	qps := flag.Float64("kube-api-qps", 20, "client QPS when the API server has no priority and fairness")
	flag.IntVar(&opts.KubernetesAPIBurst, "kube-api-burst", 50, "client burst, likewise")
	workers := flag.Int("concurrent-workers", 5, "workers per controller")
	leaderElect := flag.Bool("leader-elect", false, "not supported here: must be false")
	enabled := flag.String("controllers", "*", "comma-separated controllers to run, * for all: "+
		strings.Join(slices.Sorted(func(yield func(string) bool) {
			for name := range controller.Known() {
				if !yield(name) {
					return
				}
			}
		}), ","))
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		fmt.Println(util.VersionInfo().GitVersion)
		return
	}
	if *leaderElect {
		fmt.Fprintln(os.Stderr, "controller: --leader-elect is not supported by this build")
		os.Exit(2)
	}
	opts.KubernetesAPIQPS = float32(*qps)
	// upstream's defaults (internal/apis/config/controller/v1alpha1) for what remains
	opts.ClusterIssuerAmbientCredentials = true
	opts.CertificateRequestMinimumBackoffDuration = time.Hour
	opts.CertificateRequestMaximumBackoffDuration = 32 * time.Hour
	opts.CopiedAnnotationPrefixes = []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"}
	opts.MaxConcurrentChallenges = 60
	opts.GatewayAPIExtraProtocols = sets.New[string]()
	if err := run(opts, *workers, *enabled); err != nil {
		fmt.Fprintln(os.Stderr, "controller:", err)
		os.Exit(1)
	}
}

func run(opts controller.ContextOptions, workers int, enabled string) error {
	logf.InitLogs()
	defer logf.FlushLogs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log, "cert-manager-controller")
	log := logf.FromContext(ctx)

	factory, err := controller.NewContextFactory(ctx, opts)
	if err != nil {
		return err
	}
	shared, err := factory.Build()
	if err != nil {
		return err
	}
	wanted := sets.New(strings.Split(enabled, ",")...)
	var group sync.WaitGroup
	errs := make(chan error, len(controller.Known()))
	for name, construct := range controller.Known() {
		if !wanted.Has("*") && !wanted.Has(name) {
			continue
		}
		if opts.Namespace != "" && name == clusterissuers.ControllerName {
			continue // as upstream: no ClusterIssuers when scoped to one namespace
		}
		loop, err := construct(factory)
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		group.Add(1)
		go func() {
			defer group.Done()
			log.Info("starting controller", "controller", name)
			if err := loop.Run(workers, ctx); err != nil {
				errs <- fmt.Errorf("controller %s: %w", name, err)
				stop()
			}
		}()
	}
	shared.SharedInformerFactory.Start(ctx.Done())
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	group.Wait()
	shared.HTTP01ResourceMetadataInformersFactory.Shutdown()
	shared.KubeSharedInformerFactory.Shutdown()
	shared.SharedInformerFactory.Shutdown()
	close(errs)
	return <-errs
}
