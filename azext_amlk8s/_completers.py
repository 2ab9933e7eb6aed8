# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Tab completion for cluster names, extension names, check ids and release trains, as az aks and az k8s-extension
offer. Loaded with the arguments, so nothing heavy is imported until a completion runs."""

from azure.cli.core.decorators import Completer

from azext_amlk8s._constants import AKS_RP, ARC_RP, CONNECTED, KNOWN_RELEASE_TRAINS, MANAGED


def _ref_parts(namespace):
    group = getattr(namespace, 'resource_group_name', None)
    kind = str(getattr(namespace, 'cluster_type', None) or '').lower()
    kinds = [(AKS_RP, MANAGED), (ARC_RP, CONNECTED)]
    if kind in ('managedclusters', 'aks'):
        kinds = kinds[:1]
    elif kind in ('connectedclusters', 'arc'):
        kinds = kinds[1:]
    return group, kinds


@Completer
def cluster_names(cmd, prefix, namespace, **kwargs):  # pylint: disable=unused-argument
    from azure.cli.core.commands.client_factory import get_subscription_id
    from azext_amlk8s._client_factory import cf_extensions_client
    from azext_amlk8s._constants import CONNECTED_CLUSTER_API, CONTAINER_SERVICE_API
    from azext_amlk8s._transport import arm_list
    group, kinds = _ref_parts(namespace)
    if not group:
        return []
    client = cf_extensions_client(cmd.cli_ctx)
    sub = get_subscription_id(cmd.cli_ctx)
    names = []
    for rp, kind in kinds:
        items = arm_list(client, f'/subscriptions/{sub}/resourceGroups/{group}/providers/{rp}/{kind}',
                         CONTAINER_SERVICE_API if kind == MANAGED else CONNECTED_CLUSTER_API) or []
        names.extend(item.get('name') for item in items if item.get('name'))
    return sorted(set(names))


@Completer
def extension_names(cmd, prefix, namespace, **kwargs):  # pylint: disable=unused-argument
    from azure.cli.core.commands.client_factory import get_subscription_id
    from azext_amlk8s._client_factory import cf_extensions_client
    from azext_amlk8s._constants import EXTENSION_TYPE_LOWER, EXTENSIONS_API
    from azext_amlk8s._transport import arm_list
    group, kinds = _ref_parts(namespace)       # while completing, --cluster-type may not be parsed yet: try both
    cluster = getattr(namespace, 'cluster_name', None)
    if not group or not cluster:
        return []
    client = cf_extensions_client(cmd.cli_ctx)
    items = []
    for rp, kind in kinds:
        path = (f'/subscriptions/{get_subscription_id(cmd.cli_ctx)}/resourceGroups/{group}/providers/{rp}/{kind}/'
                f'{cluster}/providers/Microsoft.KubernetesConfiguration/extensions')
        items.extend(arm_list(client, path, EXTENSIONS_API) or [])
    return sorted(item.get('name') for item in items if item.get('name') and str(
        (item.get('properties') or {}).get('extensionType') or '').lower() == EXTENSION_TYPE_LOWER)


@Completer
def check_ids(cmd, prefix, namespace, **kwargs):  # pylint: disable=unused-argument
    from azext_amlk8s.rules.prereqs import ALL_CHECK_IDS
    return list(ALL_CHECK_IDS)


@Completer
def release_trains(cmd, prefix, namespace, **kwargs):  # pylint: disable=unused-argument
    return list(KNOWN_RELEASE_TRAINS)
