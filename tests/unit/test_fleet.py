"""Pure parts of the fleet: the Resource Graph queries, the rows made of their answers, --ids parsing, the quota pause
and the per-subscription token bucket."""
# pylint: disable=missing-docstring,protected-access

import pytest
from azure.cli.core.azclierror import InvalidArgumentValueError

from azext_amlk8s import _transport
from azext_amlk8s.act import fleet

SUB = '0b1f6471-1bf0-4dda-aec3-111122223333'
AKS = f'/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.ContainerService/managedClusters/aks-1'
ARC = f'/subscriptions/{SUB}/resourceGroups/rg-arc/providers/Microsoft.Kubernetes/connectedClusters/arc-1'


def ext(cluster, state='Succeeded', **extra):
    row = {'id': cluster + '/providers/Microsoft.KubernetesConfiguration/Extensions/azureml', 'name': 'azureml',
           'provisioningState': state, 'version': '1.1.88', 'releaseTrain': 'stable', 'autoUpgrade': 'true'}
    row.update(extra)
    return row


def test_queries_read_both_spellings_and_narrow_to_a_group_safely():
    extensions, clusters = fleet.queries("rg'x")
    assert 'kubernetesconfigurationresources' in extensions and 'properties.ExtensionType' in extensions
    assert 'properties.extensionType' in extensions and "'microsoft.azureml.kubernetes'" in extensions
    assert "resourceGroup =~ 'rg\\'x'" in extensions and "resourceGroup =~ 'rg\\'x'" in clusters
    assert 'join' not in extensions and clusters.startswith('resources')
    assert '{group}' not in ''.join(fleet.queries(None))


def test_rows_join_clusters_and_summarise_why_an_extension_is_unhealthy():
    clusters = [{'id': AKS, 'powerState': 'Running', 'connectivityStatus': ''},
                {'id': ARC, 'connectivityStatus': 'Offline'}]
    failed = ext(AKS, 'Failed', errorInfo={'code': 'ExtensionOperationFailed', 'message': 'Helm  said\n no'})
    rows = fleet.fleet_rows([ext(AKS), failed, ext(ARC)], clusters)
    assert [r['clusterType'] for r in rows] == ['managedClusters', 'managedClusters', 'connectedClusters']
    assert rows[0]['healthy'] is True and rows[0]['error'] is None and rows[0]['autoUpgradeMinorVersion'] is True
    assert rows[1]['healthy'] is False and rows[1]['error'] == '(ExtensionOperationFailed) Helm said no'
    assert rows[2]['healthy'] is False and 'Offline' in rows[2]['error']
    gone = fleet.fleet_rows([ext(AKS)], [])
    assert gone[0]['healthy'] is False and 'not found' in gone[0]['error']


def test_ids_are_split_validated_and_deduplicated():
    refs = fleet.parse_ids([f'{AKS} {ARC},{AKS}\n'])
    assert [r.cluster_type for r in refs] == ['managedClusters', 'connectedClusters']
    with pytest.raises(InvalidArgumentValueError) as info:
        fleet.parse_ids(['/subscriptions/x/resourceGroups/y'])
    assert '--ids' in info.value.error_msg
    with pytest.raises(InvalidArgumentValueError):
        fleet.parse_ids([' '])


@pytest.mark.parametrize('headers,expected', [
    ({'x-ms-user-quota-remaining': '3', 'x-ms-user-quota-resets-after': '00:00:04'}, 0.0),
    ({'x-ms-user-quota-remaining': '0', 'x-ms-user-quota-resets-after': '00:00:04'}, 4.0),
    ({'x-ms-user-quota-remaining': '0', 'x-ms-user-quota-resets-after': 'soon'}, 1.0),
    ({}, 0.0)])
def test_quota_pause(headers, expected):
    assert fleet._quota_pause(headers) == expected


def test_the_bucket_lets_a_burst_through_then_paces_at_its_refill_rate():
    bucket = _transport._Bucket(3, 10.0)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert 0.05 < bucket.take() <= 0.1
