# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Data the prerequisite checks take from Microsoft's documentation, as data. Standard library only."""

# Azure region pairs (learn.microsoft.com "Azure cross-region replication pairings"). The AzureML
# control plane runs in the cluster's region and its pair, so both regions' service tags are needed.
_REGION_PAIRS_BOTH_WAYS = (
    ("eastus", "westus"), ("eastus2", "centralus"), ("westus2", "westcentralus"),
    ("northcentralus", "southcentralus"), ("canadacentral", "canadaeast"),
    ("westeurope", "northeurope"), ("uksouth", "ukwest"), ("francecentral", "francesouth"),
    ("germanywestcentral", "germanynorth"), ("switzerlandnorth", "switzerlandwest"),
    ("norwayeast", "norwaywest"), ("swedencentral", "swedensouth"), ("eastasia", "southeastasia"),
    ("japaneast", "japanwest"), ("koreacentral", "koreasouth"), ("australiaeast", "australiasoutheast"),
    ("australiacentral", "australiacentral2"), ("centralindia", "southindia"),
    ("jioindiawest", "jioindiacentral"), ("southafricanorth", "southafricawest"), ("uaenorth", "uaecentral"),
    ("chinanorth", "chinaeast"), ("chinanorth2", "chinaeast2"), ("chinanorth3", "chinaeast3"),
    ("usgovvirginia", "usgovtexas"), ("usdodeast", "usdodcentral"),
)
# Pairings that are not symmetric: the region on the left fails over to the one on the right.
_REGION_PAIRS_ONE_WAY = (
    ("westus3", "eastus"), ("brazilsouth", "southcentralus"), ("brazilsoutheast", "brazilsouth"),
    ("westindia", "southindia"),
    ("usgovarizona", "usgovtexas"),
)


def _build_region_pairs():
    pairs = {}
    for left, right in _REGION_PAIRS_BOTH_WAYS:
        pairs[left] = right
        pairs[right] = left
    pairs.update(dict(_REGION_PAIRS_ONE_WAY))
    return pairs


REGION_PAIRS = _build_region_pairs()

# azureml-extension.md §8.3 "Total minimum system requirements" (millicores, MiB), excluding user workloads.
#   (scenario, workload): (cpu request, cpu limit, memory request, memory limit, nodes, recommended size)
RESOURCE_MINIMUMS = {
    ("test", "inference"): (1780, 8300, 2440, 12296, 1, "DS2v2"),
    ("test", "training"): (410, 4420, 1492, 10960, 1, "DS2v2"),
    ("test", "both"): (1910, 10420, 2884, 15744, 1, "DS3v2"),
    ("production", "inference"): (3600, 12700, 4240, 15296, 3, "DS3v2"),
    ("production", "training"): (410, 4420, 1492, 10960, 1, "DS4v2"),
    ("production", "both"): (3730, 14820, 4684, 18744, 3, "DS4v2"),
}
# §8.3 "Nodes" and "Recommended min VM size" for production: (node count, vCPU, GiB per node).
PRODUCTION_RECOMMENDED_NODES = {
    "inference": (3, 4, 14),
    "training": (1, 8, 28),
    "both": (3, 4, 14),
}
# §8.3 "Nodes" and "Recommended min VM size" for test: one node of DS2v2 (2 vCPU, 7 GiB) for one workload, DS3v2
# (4 vCPU, 14 GiB) for both. The requests alone are not enough: they leave nothing for what AKS reserves on each
# node nor for kube-system (a 2 vCPU / 4 GiB node has about 1.9 vCPU allocatable, below the 1.91 vCPU requested).
TEST_RECOMMENDED_NODES = {
    "inference": (1, 2, 7),
    "training": (1, 2, 7),
    "both": (1, 4, 14),
}
# azureml-extension.md §1.1: "For production purposes ... a minimum of 4 vCPU cores and 14-GB memory".
PRODUCTION_HEADLINE_MILLICORES = 4000
PRODUCTION_HEADLINE_MIB = 14 * 1024

# azureml-extension.md §1.5: service accounts to add to the privileged SCC on ARO/OCP.
OPENSHIFT_SCC_SERVICE_ACCOUNTS = (
    "azure-arc:azure-arc-kube-aad-proxy-sa",
    "azureml:{extension}-kube-state-metrics",
    "azureml:prom-admission",
    "azureml:default",
    "azureml:prom-operator",
    "azureml:load-amlarc-selinux-policy-sa",
    "azureml:azureml-fe-v2",
    "azureml:prom-prometheus",
    "azureml:azureml-ingress-nginx",
    "azureml:azureml-ingress-nginx-admission",
)
