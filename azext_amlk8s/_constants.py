# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The one home of amlk8s's constants. Standard library only: every other module may import it.

Sources: azureml-extension.md (Microsoft's AzureML extension docs), the KubernetesConfiguration, ContainerService,
Kubernetes, Resources, Compute, Resource Graph and MachineLearningServices REST specs (azure-rest-api-specs).
"""

# --- The AzureML extension ------------------------------------------------------------------------------------------
EXTENSION_TYPE = 'Microsoft.AzureML.Kubernetes'
EXTENSION_TYPE_LOWER = EXTENSION_TYPE.lower()
DEFAULT_EXTENSION_NAME = 'azureml'
RELEASE_NAMESPACE = 'azureml'
SCOPE = 'cluster'
DEFAULT_RELEASE_TRAIN = 'stable'
KNOWN_RELEASE_TRAINS = ('stable', 'preview')
PROTECTED_PLACEHOLDER = '<protected>'
TSG_LINK = 'https://aka.ms/arcmltsg'
NETWORK_REQUIREMENTS_LINK = 'https://learn.microsoft.com/azure/machine-learning/how-to-access-azureml-behind-firewall'
ML_TRUSTED_ACCESS_ROLE = 'Microsoft.MachineLearningServices/workspaces/mlworkload'

# --- Cluster types and resource providers ---------------------------------------------------------------------------
MANAGED = 'managedClusters'
CONNECTED = 'connectedClusters'
AKS_RP = 'Microsoft.ContainerService'
ARC_RP = 'Microsoft.Kubernetes'
EXTENSIONS_RP = 'Microsoft.KubernetesConfiguration'
RELAY_RP = 'Microsoft.Relay'
ML_RP = 'Microsoft.MachineLearningServices'

# --- API versions (one per API family) ------------------------------------------------------------------------------
EXTENSIONS_API = '2023-05-01'                # Microsoft.KubernetesConfiguration/extensions
EXTENSION_TYPES_API = '2023-05-01-preview'   # .../extensionTypes/{type}/versions (cluster scope)
CONTAINER_SERVICE_API = '2024-09-01'         # managedClusters, agentPools, trustedAccessRoleBindings, versions
CONNECTED_CLUSTER_API = '2024-01-01'         # Microsoft.Kubernetes/connectedClusters
RESOURCES_API = '2022-09-01'                 # resource groups, providers
SKUS_API = '2021-07-01'                      # Microsoft.Compute/skus
RESOURCE_GRAPH_API = '2022-10-01'            # Microsoft.ResourceGraph/resources
ML_API = '2024-10-01'                        # Microsoft.MachineLearningServices workspaces and computes
RELAY_API = '2021-11-01'                     # Microsoft.Relay namespaces, hybridConnections, authorizationRules

# --- Provisioning states --------------------------------------------------------------------------------------------
# Lower-case states of an operation that is still running (the service's and the ARM generic ones).
BUSY_STATES = ('creating', 'updating', 'deleting', 'pending', 'accepted', 'provisioning')
TERMINAL_STATES = ('succeeded', 'failed', 'canceled')
# The `az amlk8s wait` flag that follows each busy state.
WAIT_FLAG_FOR_STATE = {'creating': '--created', 'provisioning': '--created', 'updating': '--updated',
                       'pending': '--updated', 'accepted': '--updated', 'deleting': '--deleted'}

# --- Polling --------------------------------------------------------------------------------------------------------
# Without a Retry-After header the SDK would wait 30 s between polls; the service's header still wins.
POLLING_INTERVAL = 2
# How often the wait loop looks whether the SDK poller has finished (azure-cli's default is 500 ms).
DONE_CHECK_MS = 100

# --- The cluster's Kubernetes API (read-only) -----------------------------------------------------------------------
# Microsoft Entra ID server application of every AKS cluster with Entra ID integration, in every cloud
# (azure-cli acs/custom.py; kubelogin's --server-id).
AKS_AAD_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630'
KUBE_CONNECT_TIMEOUT = 5.0      # seconds to open a connection to the API server
KUBE_READ_TIMEOUT = 20.0        # seconds for one answer
KUBE_PARALLEL_READS = 8
KUBE_MAX_PAGES = 200            # pages of one list (metadata.continue) before the list counts as unread
KUBE_EXEC_TIMEOUT = 30.0        # seconds for a kubeconfig's exec credential plugin (kubelogin, aws, gke-...)
KUBE_EXEC_INTERACTIVE_TIMEOUT = 300.0   # ... when it may prompt on this terminal (a device code sign-in)
