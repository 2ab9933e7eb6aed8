# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 2, the facts: read-only gatherers that return plain values. ``cluster`` reads Azure Resource Manager (the
cluster, its extensions, providers, versions, VM sizes, Trusted Access); ``kube`` opens the cluster's Kubernetes API
and ``clusterapi`` proves it is this cluster and reads what the rules need. Nothing else reads Azure or the cluster."""
