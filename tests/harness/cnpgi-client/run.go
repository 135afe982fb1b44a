package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cloudnative-pg/cnpg-i/pkg/identity"
	"github.com/cloudnative-pg/cnpg-i/pkg/operator"
	"github.com/cloudnative-pg/cnpg-i/pkg/reconciler"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// callTimeout is the operator's deadline for every plugin call
// (cnpg internal/cnpi/plugin/connection/connection.go defaultNetworkCallTimeout).
const callTimeout = 30 * time.Second

// callRecord is one RPC as it appears in the JSON summary.
type callRecord struct {
	Method string  `json:"method"`
	Millis float64 `json:"ms"`
	Error  string  `json:"error,omitempty"`
}

// summary is what the program prints: what the plugin answered and what did not match.
type summary struct {
	OK                  bool                `json:"ok"`
	Address             string              `json:"address"`
	ServerName          string              `json:"serverName"`
	TLSVersion          string              `json:"tlsVersion,omitempty"`
	Metadata            map[string]any      `json:"metadata,omitempty"`
	Capabilities        []string            `json:"capabilities"`
	ServiceCapabilities map[string][]string `json:"serviceCapabilities"`
	ProbeReady          *bool               `json:"probeReady,omitempty"`
	Pre                 string              `json:"pre,omitempty"`
	Post                string              `json:"post,omitempty"`
	PostError           string              `json:"postError,omitempty"`
	Status              any                 `json:"status,omitempty"`
	StatusCalled        bool                `json:"statusCalled"`
	Calls               []callRecord        `json:"calls"`
	Failures            []string            `json:"failures"`
}

// run holds the state of one session against the plugin.
type run struct {
	summary              summary
	services             []identity.PluginCapability_Service_Type
	operatorCapabilities []operator.OperatorCapability_RPC_Type
	reconcilerKinds      []reconciler.ReconcilerHooksCapability_Kind
}

func newRun(address, serverName string) *run {
	return &run{summary: summary{
		Address:             address,
		ServerName:          serverName,
		Capabilities:        []string{},
		ServiceCapabilities: map[string][]string{},
		Calls:               []callRecord{},
		Failures:            []string{},
	}}
}

func (r *run) fail(format string, args ...any) {
	r.summary.Failures = append(r.summary.Failures, fmt.Sprintf(format, args...))
}

// call runs one RPC with the operator's deadline and records its duration and error.
func (r *run) call(ctx context.Context, method string, rpc func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	started := time.Now()
	err := rpc(ctx)
	record := callRecord{Method: method, Millis: float64(time.Since(started).Microseconds()) / 1000}
	if err != nil {
		record.Error = err.Error()
	}
	r.summary.Calls = append(r.summary.Calls, record)
	return err
}

// enumName maps an enum number to its name in the published stubs. A number the stubs do
// not know, or the UNSPECIFIED zero value, means our .proto files disagree with CNPG-I.
func (r *run) enumName(what string, value int32, names map[int32]string) string {
	name, known := names[value]
	if !known {
		r.fail("%s %d is not a value the cnpg-i stubs know", what, value)
		return fmt.Sprintf("UNKNOWN(%d)", value)
	}
	if value == 0 {
		r.fail("%s is %s (0): the plugin must name a real value", what, name)
	}
	return name
}

// checkDecoded fails when an answer carries fields the published stubs do not know: the
// sign of a field number or type in our .proto files that differs from CNPG-I's.
func (r *run) checkDecoded(method string, message proto.Message) {
	for _, path := range unknownFields(message.ProtoReflect(), string(message.ProtoReflect().Descriptor().Name())) {
		r.fail("%s: answer has fields unknown to cnpg-i at %s (our .proto files differ)", method, path)
	}
}

func unknownFields(message protoreflect.Message, path string) []string {
	var found []string
	if len(message.GetUnknown()) > 0 {
		found = append(found, path)
	}
	message.Range(func(field protoreflect.FieldDescriptor, value protoreflect.Value) bool {
		if field.Message() == nil || field.IsMap() {
			return true
		}
		child := path + "." + string(field.Name())
		if field.IsList() {
			for i := 0; i < value.List().Len(); i++ {
				found = append(found, unknownFields(value.List().Get(i).Message(), fmt.Sprintf("%s[%d]", child, i))...)
			}
			return true
		}
		found = append(found, unknownFields(value.Message(), child)...)
		return true
	})
	return found
}

func (r *run) hasService(service identity.PluginCapability_Service_Type) bool {
	return slices.Contains(r.services, service)
}
