// Module cnpgiwalrestore is a test program that calls a plugin's cnpgi.wal.v1.WAL/Restore over
// a unix socket exactly as the CloudNativePG instance manager's `manager wal-restore` does,
// through the Go stubs published in github.com/cloudnative-pg/cnpg-i. It is never part of the
// product.
module github.com/documentdb/cnpg-wal-replica/tests/harness/cnpgi-wal-restore

go 1.25.0

require (
	github.com/cloudnative-pg/cnpg-i v0.6.0
	google.golang.org/grpc v1.82.1
)

require (
	golang.org/x/net v0.53.0 // indirect
	golang.org/x/sys v0.43.0 // indirect
	golang.org/x/text v0.36.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260414002931-afd174a4e478 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
