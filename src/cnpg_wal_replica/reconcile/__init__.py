"""The plugin's logic behind the CNPG-I services, on whatever Kubernetes API it is given.

    reconciler.py  Reconciler: Post, the janitor's removal, status, validate, mutate, the
                   lifecycle hook; one pass down the data path (orchestration only)
    pre.py         Pre: parse what was not seen recently, log problems now and then
    report.py      the receiver's status for SetStatusInCluster (pure)

It writes through `kube.interface` (an Applier and an EventSink it is handed) and never
builds a client: the serve side (`plugin/wiring.py`) opens the API and runs the janitor.
"""
