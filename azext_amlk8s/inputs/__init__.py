# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 1, the request: a command's arguments turned into one frozen value (``request``), and the clusters a fleet
command runs on, from ``--ids``, an ``--ids`` table or a Resource Graph selection (``selection``). Usage errors stop
here, before any request to Azure."""
