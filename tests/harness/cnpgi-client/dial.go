package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// operatorTLSConfig builds the TLS configuration the way the CNPG operator does in
// internal/controller/plugin_controller.go: every certificate in the server secret's tls.crt
// is a trusted root, ServerName is the Service name (or the pluginServerName annotation), the
// client presents the operator's key pair, and nothing below TLS 1.3 is accepted.
func operatorTLSConfig(serverCertFile, clientCertFile, clientKeyFile, serverName string) (*tls.Config, error) {
	serverPEM, err := os.ReadFile(serverCertFile) //nolint:gosec // path given on the command line
	if err != nil {
		return nil, fmt.Errorf("--server-cert: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(serverPEM) {
		return nil, fmt.Errorf("--server-cert %s: no PEM certificate found", serverCertFile)
	}
	clientPair, err := tls.LoadX509KeyPair(clientCertFile, clientKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--client-cert/--client-key: %w", err)
	}
	return &tls.Config{
		ServerName:   serverName,
		RootCAs:      roots,
		Certificates: []tls.Certificate{clientPair},
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// dial opens the connection as the operator's ProtocolTCP.Dial does
// (internal/cnpi/plugin/connection/remote.go): grpc.NewClient with TLS transport credentials.
// The operator's 30 s per-call timeout interceptor is applied by the caller per RPC.
func dial(address string, config *tls.Config) (*grpc.ClientConn, error) {
	return grpc.NewClient(address, grpc.WithTransportCredentials(credentials.NewTLS(config)))
}
