# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 3, the plan: pure rules from (request, facts) to a plan or a report. ``settings``, ``tls`` and ``hostnames``
check the input; ``prereqs`` the documented prerequisites; ``plan`` and ``update`` build the body to send;
``incluster``, ``scheduling`` and ``running`` judge what the cluster's API returned; ``health`` turns it all into
verify's report; ``drift`` compares a fleet's extensions."""
