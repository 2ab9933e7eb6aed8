"""Shared sample values for the unit tests: cluster references, a relay, an AKS node pool body."""

from azext_amlk8s.facts.cluster import ClusterRef

SUB = '0b1f6471-1bf0-4dda-aec3-111122223333'
AKS = ClusterRef(SUB, 'rg-ml', 'aks-prod', 'managedClusters')
ARC = ClusterRef(SUB, 'rg-arc', 'arc-k3s', 'connectedClusters')
HC_ID = ('/subscriptions/{}/resourceGroups/rg-arc/providers/Microsoft.Relay/namespaces/ns1/hybridConnections/'
         'arc-k3s'.format(SUB))
CONN = ('Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=azureml_rw;'
        'SharedAccessKey=c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTIzNA==;EntityPath=arc-k3s')


def pool(name="nodepool1", count=3, vm_size="Standard_D4s_v3", os_type="Linux", mode="System", **extra):
    """An agentPoolProfiles entry as AKS returns it."""
    entry = {"name": name, "count": count, "vmSize": vm_size, "osType": os_type, "mode": mode,
             "type": "VirtualMachineScaleSets", "enableAutoScaling": False, "powerState": {"code": "Running"},
             "orchestratorVersion": "1.32", "provisioningState": "Succeeded", "osSKU": "Ubuntu"}
    entry.update(extra)
    return entry
