# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 5, the report beyond the screen: ``export`` renders the body a deploy would send as ARM, Bicep, Terraform or
Azure Policy; ``bundle`` writes verify's support bundle, redacted. Tables and JSON are ``_format`` (az glue)."""
