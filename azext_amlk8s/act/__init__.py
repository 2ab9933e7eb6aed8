# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 4, the act: what writes or waits. ``waiting`` sends the one write and follows its operation, ``live`` reads the
cluster while that wait runs, ``relay`` ensures the Arc relay, ``workspace`` attaches the cluster to a workspace,
``fleet`` runs one cluster's job over many (and reads Resource Graph), ``rollout`` does it in gated stages."""
