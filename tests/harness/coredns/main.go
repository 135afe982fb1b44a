// Command coredns is CoreDNS with only the plugins a cluster DNS without upstream forwarding
// needs (no forward, loop or hosts; bind, so that it can run as a process on the node listening
// on one address), for a Corefile such as
//
//	.:53 {
//	    bind 10.88.0.1
//	    errors
//	    log
//	    health
//	    ready
//	    kubernetes cluster.local in-addr.arpa ip6.arpa {
//	        pods insecure
//	    }
//	    cache 30
//	    reload
//	}
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// directives are the plugins CoreDNS registers with this build, in the order of upstream's
// plugin.cfg, which is the order a request passes them whatever the order in the Corefile.
// metadata, prometheus (plugin/metrics) and transfer come with cache and kubernetes; listing
// them lets a Corefile use them.
var directives = []string{
	"metadata",
	"reload",
	"bind",
	"ready",
	"health",
	"prometheus",
	"errors",
	"log",
	"cache",
	"transfer",
	"kubernetes",
}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
