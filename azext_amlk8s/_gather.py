# TEMPORARY: moves into cluster.py (gather_facts) once cluster.py's pure part has landed.
"""One read-only pass over ARM that returns the cluster's facts."""

from concurrent.futures import ThreadPoolExecutor

from azext_amlk8s._client_factory import arm_get, arm_list

CONTAINER_SERVICE_API = '2024-09-01'
CONNECTED_CLUSTER_API = '2024-01-01'
RESOURCES_API = '2022-09-01'
SKUS_API = '2021-07-01'
EXTENSIONS_API = '2023-05-01'
MAX_PARALLEL_READS = 6


def providers_for(ref):
    if ref.is_aks:
        return ('Microsoft.KubernetesConfiguration',)
    return ('Microsoft.KubernetesConfiguration', 'Microsoft.Kubernetes', 'Microsoft.ExtendedLocation')


def _cluster_api(ref):
    return CONTAINER_SERVICE_API if ref.is_aks else CONNECTED_CLUSTER_API


def get_cluster(client, ref) -> dict:
    """The cluster's ARM body; a missing cluster is a ResourceNotFoundError (exit code 3) saying what was looked for."""
    response = arm_get(client, ref.resource_id, _cluster_api(ref))
    if response.status == 404:
        raise cluster_not_found(client, ref)
    return response.body or {}


def cluster_not_found(client, ref):
    from azure.cli.core.azclierror import ResourceNotFoundError
    from azext_amlk8s.cluster import CONNECTED, MANAGED, ClusterRef
    group = arm_get(client, '/subscriptions/{}/resourcegroups/{}'.format(ref.subscription_id, ref.resource_group),
                    RESOURCES_API)
    if group.status == 404:
        return ResourceNotFoundError(
            "The resource group '{}' was not found in subscription {}.".format(ref.resource_group,
                                                                               ref.subscription_id),
            'Check --resource-group and the subscription (az account show); az group list -o table lists the '
            'resource groups.')
    other = ClusterRef(ref.subscription_id, ref.resource_group, ref.cluster_name,
                       CONNECTED if ref.is_aks else MANAGED)
    if arm_get(client, other.resource_id, _cluster_api(other)).status != 404:
        return ResourceNotFoundError(
            "{} was not found, but resource group '{}' has an {} of that name.".format(
                _what(ref), ref.resource_group, 'Azure Arc-enabled cluster' if other.is_arc else 'AKS cluster'),
            'Use --cluster-type {}.'.format(other.cluster_type))
    return ResourceNotFoundError(
        '{} was not found ({}).'.format(_what(ref), ref.resource_id),
        'Check --cluster-name, --resource-group and --cluster-type; {} lists the clusters of the group.'.format(
            'az aks list -g {} -o table'.format(ref.resource_group) if ref.is_aks else
            'az connectedk8s list -g {} -o table'.format(ref.resource_group)))


def _what(ref):
    return "The {} '{}' (type {}/{}) in resource group '{}'".format(
        'AKS cluster' if ref.is_aks else 'Azure Arc-enabled cluster', ref.cluster_name, ref.cluster_rp,
        ref.cluster_type, ref.resource_group)


def _needs_trusted_access(cluster: dict) -> bool:
    props = cluster.get('properties') if isinstance(cluster.get('properties'), dict) else {}
    access = props.get('apiServerAccessProfile') if isinstance(props.get('apiServerAccessProfile'), dict) else {}
    return bool(props.get('disableLocalAccounts') or access.get('authorizedIPRanges') or
                access.get('enablePrivateCluster'))


def _quiet(func, *args, **kwargs):
    """A read whose failure (403, 5xx after retries, ...) makes its facts unknown instead of stopping the checks."""
    from azure.core.exceptions import HttpResponseError
    try:
        return func(*args, **kwargs)
    except HttpResponseError:
        return None


def _body(response):
    return None if response is None or response.status == 404 else response.body


def extensions_path(ref):
    return ref.resource_id + '/providers/Microsoft.KubernetesConfiguration/extensions'


def gather_facts(client, ref, *, full=True, cli_version=None):
    """Read the cluster, then everything that depends on it, concurrently; return ``ClusterFacts``.

    The cluster GET goes first (it also fetches the token the concurrent reads then share); each other read is
    sent at most once, and only when a check needs it.
    """
    from azext_amlk8s.cluster import facts_from_bodies
    cluster = get_cluster(client, ref)
    if not full:
        return facts_from_bodies(ref, cluster, cli_version=cli_version)
    location = str(cluster.get('location') or '').lower().replace(' ', '')
    sub = '/subscriptions/{}'.format(ref.subscription_id)
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_READS) as pool:
        extensions = pool.submit(_quiet, arm_list, client, extensions_path(ref), EXTENSIONS_API)
        providers = {ns: pool.submit(_quiet, arm_get, client, '{}/providers/{}'.format(sub, ns), RESOURCES_API)
                     for ns in providers_for(ref)}
        versions = skus = trusted = None
        if location:
            versions = pool.submit(_quiet, arm_get, client, '{}/providers/Microsoft.ContainerService/locations/{}/'
                                   'kubernetesVersions'.format(sub, location), CONTAINER_SERVICE_API)
        if location and ref.is_aks:
            skus = pool.submit(_quiet, arm_get, client, '{}/providers/Microsoft.Compute/skus'.format(sub), SKUS_API,
                               {'$filter': "location eq '{}'".format(location)})
        if ref.is_aks and _needs_trusted_access(cluster):
            trusted = pool.submit(_quiet, arm_get, client, ref.resource_id + '/trustedAccessRoleBindings',
                                  CONTAINER_SERVICE_API)
        return facts_from_bodies(
            ref, cluster,
            extensions=extensions.result(),
            providers={ns: _body(future.result()) for ns, future in providers.items()},
            k8s_versions=_body(versions.result()) if versions else None,
            skus=_body(skus.result()) if skus else None,
            trusted_access=_body(trusted.result()) if trusted else None,
            cli_version=cli_version)
