"""What our gRPC servers share: grpcio's environment, reloading mutual TLS, CNPG-I Identity.

```
files.py      the three PEM paths a server is given (no grpc import)
identity.py   CNPG-I Identity: the one name and metadata both CNPG-I servers answer with
grpc_env.py   set before grpc is imported: TLS 1.3 only, C-core logging kept quiet
tls.py        PEM files read, checked and reloaded on rotation; server credentials
```
"""
