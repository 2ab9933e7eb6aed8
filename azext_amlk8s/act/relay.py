# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Azure Relay for Arc clusters: find or create, read the key, report and clean up.

On Azure Arc-enabled clusters the extension's relay server talks to Azure Machine Learning through an Azure Relay
hybrid connection in the cluster's resource group and location. Names follow az k8s-extension's scheme, so a relay
it created earlier is found and reused. What amlk8s creates is tagged, so `az amlk8s delete --cleanup` can tell it
apart from a relay the user brought or k8s-extension made.
"""

from dataclasses import dataclass
from typing import List, Optional

from azext_amlk8s._constants import RELAY_API
from azext_amlk8s.rules.relay_plan import RelayPlan, parse_hybrid_connection_id

RULE_RIGHTS = ['Listen', 'Send', 'Manage']
TAG_KEY = 'created_by'
TAG_VALUE = 'amlk8s'
K8S_EXTENSION_TAG_VALUE = 'Azure Arc-enabled ML'
CLUSTER_TAG = 'amlk8s-cluster'
# Relays made for an AzureML extension by a tool, which `delete --cleanup` removes: amlk8s and az k8s-extension tag
# theirs (created_by). A relay without such a tag is the user's and is never deleted.
DELETABLE_OWNERS = ('amlk8s', 'k8s-extension')
OWNER_NAMES = {'amlk8s': 'amlk8s', 'k8s-extension': 'az k8s-extension', 'user': 'you'}


# Microsoft.Relay REST API (azure-rest-api-specs specification/relay, 2021-11-01): namespaces (PUT long-running,
# DELETE long-running with Location), hybridConnections and their authorizationRules (PUT synchronous), listKeys
# (POST). Sent as plain ARM requests on the extensions client's pipeline: no Relay SDK is imported (az 2.51 bundles
# an azure-mgmt-relay of its own whose client class differs, and az puts its own packages first on sys.path).
_RELAY_WAIT_SECONDS = 600


def _path(plan: RelayPlan, *parts):
    return '/'.join([plan.namespace_id] + list(parts))


def _read(client, path):
    from azext_amlk8s._transport import arm_get
    response = arm_get(client, path, RELAY_API)
    return None if response.status == 404 else (response.body or {})


def _pause(headers):
    import time
    from azext_amlk8s._constants import POLLING_INTERVAL
    from azext_amlk8s._transport import retry_after_seconds
    wait = retry_after_seconds(headers)
    time.sleep(min(max(wait if wait is not None else POLLING_INTERVAL, 0.05), 30))


def _wait_for_namespace(client, plan: RelayPlan):
    """Follow a namespace PUT to its end by the namespace's provisioningState (what the service reports)."""
    import time
    from azure.cli.core.azclierror import AzureResponseError
    from azext_amlk8s._transport import arm_get
    deadline = time.monotonic() + _RELAY_WAIT_SECONDS
    while True:
        response = arm_get(client, plan.namespace_id, RELAY_API)
        state = str(((response.body or {}).get('properties') or {}).get('provisioningState') or '').lower()
        if state == 'succeeded':
            return
        if state in ('failed', 'canceled') or time.monotonic() > deadline:
            raise AzureResponseError(
                f"Creating the Azure Relay namespace {plan.namespace} ended {state or 'without a state'}.",
                f'See the namespace: az relay namespace show -g {plan.resource_group} -n {plan.namespace}')
        _pause(response.headers)


def describe(client, plan: RelayPlan) -> dict:
    """Read-only: which of the relay's parts exist (for --dry-run)."""
    namespace = _read(client, plan.namespace_id)
    hybrid = _read(client, plan.hybrid_connection_id) if namespace is not None else None
    return {'namespace': plan.namespace_id, 'namespaceExists': namespace is not None,
            'hybridConnection': plan.hybrid_connection_id, 'hybridConnectionExists': hybrid is not None}


def ensure(client, plan: RelayPlan, cluster_id: str, progress=None) -> str:
    """Find or create the namespace, hybrid connection and rule; return the rule's connection string.

    Every step reads first and creates only what is missing, so a rerun after a failed deploy reuses what the
    first run made. The key is read with logging disabled for that request: --debug never shows it.
    """
    from azext_amlk8s._transport import arm_send

    def say(message):
        if progress:
            progress(message)

    if _read(client, plan.namespace_id) is None:
        say(f'Creating Azure Relay namespace {plan.namespace} in {plan.location}')
        arm_send(client, 'PUT', plan.namespace_id, RELAY_API, {
            'location': plan.location, 'sku': {'name': 'Standard', 'tier': 'Standard'},
            'tags': {TAG_KEY: TAG_VALUE, CLUSTER_TAG: cluster_id[-256:]}}, allow_404=False)
        _wait_for_namespace(client, plan)
    if _read(client, plan.hybrid_connection_id) is None:
        say(f'Creating hybrid connection {plan.hybrid_connection}')
        arm_send(client, 'PUT', plan.hybrid_connection_id, RELAY_API,
                 {'properties': {'requiresClientAuthorization': True}}, allow_404=False)
    rule = _path(plan, 'hybridConnections', plan.hybrid_connection, 'authorizationRules', plan.rule)
    if _read(client, rule) is None:
        say(f'Creating authorization rule {plan.rule} (Listen, Send, Manage)')
        arm_send(client, 'PUT', rule, RELAY_API, {'properties': {'rights': RULE_RIGHTS}}, allow_404=False)
    return read_connection_string(client, plan)


def read_connection_string(client, plan: RelayPlan) -> Optional[str]:
    """The rule's connection string (for update's re-supply), or None when the relay is gone. The answer carries
    the keys, so it is sent with logging disabled."""
    from azext_amlk8s._transport import arm_post
    rule = _path(plan, 'hybridConnections', plan.hybrid_connection, 'authorizationRules', plan.rule)
    response = arm_post(client, f"{rule}/listKeys", RELAY_API, logging_enable=False)
    if response.status == 404 or not response.body:
        return None
    return response.body.get('primaryConnectionString')


@dataclass
class RelayFinding:
    resource_id: str
    kind: str                 # 'namespace' | 'hybridConnection'
    owner: str                # 'amlk8s' | 'k8s-extension' | 'user' | 'missing'
    action: str = 'kept'      # 'kept' | 'deleted' | 'to delete'
    others: Optional[List[str]] = None  # namespace: the other hybrid connections in it (None: could not be listed)

    def to_dict(self):
        return {'id': self.resource_id, 'kind': self.kind, 'createdBy': self.owner, 'action': self.action}


def owned_resources(client, settings: dict) -> List[RelayFinding]:
    """The relay resources behind an extension's settings, and who created them."""
    hc_id = settings.get('relayserver.hybridConnectionResourceID')
    plan = parse_hybrid_connection_id(hc_id) if hc_id else None
    if plan is None:
        return []
    namespace = _read(client, plan.namespace_id)
    if namespace is None:
        return [RelayFinding(plan.namespace_id, 'namespace', 'missing')]
    tags = {str(k).lower(): v for k, v in (namespace.get('tags') or {}).items()}
    created_by = tags.get(TAG_KEY)
    owner = 'amlk8s' if created_by == TAG_VALUE else 'k8s-extension' if created_by == K8S_EXTENSION_TAG_VALUE \
        else 'user'
    others = _other_hybrid_connections(client, plan) if owner in DELETABLE_OWNERS else []
    return [RelayFinding(plan.namespace_id, 'namespace', owner, others=others),
            RelayFinding(plan.hybrid_connection_id, 'hybridConnection', owner)]


def _other_hybrid_connections(client, plan: RelayPlan) -> Optional[List[str]]:
    """The names of the namespace's hybrid connections other than the extension's own (another Arc cluster's relay
    may share the namespace); None when they cannot be listed (refused, failing), which keeps the namespace."""
    from azure.core.exceptions import AzureError
    from azext_amlk8s._transport import arm_list
    try:
        items = arm_list(client, _path(plan, 'hybridConnections'), RELAY_API)
    except AzureError:
        return None
    own = plan.hybrid_connection_id.rsplit('/', 1)[-1].lower()
    return [str(i.get('name')) for i in items or () if isinstance(i, dict) and str(i.get('name')).lower() != own]


def _namespace_is_shared(finding: 'RelayFinding') -> bool:
    return finding.others is None or bool(finding.others)


def delete_namespace(client, resource_group: str, namespace: str, subscription_id: str, no_wait: bool = False):
    """DELETE the namespace (long-running, Location pattern); unless ``no_wait``, follow it to its end."""
    import time
    from azext_amlk8s._transport import arm_get, arm_send
    path = (f'/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Relay/'
            f'namespaces/{namespace}')
    response = arm_send(client, 'DELETE', path, RELAY_API, allow_404=True)
    location = response.headers.get('Location') if response.status == 202 else None
    deadline = time.monotonic() + _RELAY_WAIT_SECONDS
    while location and not no_wait and time.monotonic() < deadline:
        _pause(response.headers)
        response = arm_get(client, location, RELAY_API, allow_404=True)
        if response.status != 202:
            return


def delete_hybrid_connection(client, hc_id: str):
    """DELETE one hybrid connection (HybridConnections_Delete: 200, or 204 when it is already gone)."""
    from azext_amlk8s._transport import arm_send
    arm_send(client, 'DELETE', hc_id, RELAY_API, allow_404=True)


def resupply_key(client, settings_now, protected, public):
    """ARM replaces protected settings as a whole: put the Azure Relay's connection string (read back from the
    relay the extension names) into ``protected``, and the hybrid connection's name into ``public`` when an older
    extension lacks it."""
    from azure.cli.core.azclierror import RequiredArgumentMissingError
    from azext_amlk8s.rules.settings import with_relay_key
    plan = parse_hybrid_connection_id(settings_now.get('relayserver.hybridConnectionResourceID', ''))
    connection = read_connection_string(client, plan) if plan else None
    if connection is None:
        raise RequiredArgumentMissingError(
            'Changing protected settings replaces all of them, and the Azure Relay connection string of this Arc '
            'extension could not be read back (the relay named by relayserver.hybridConnectionResourceID was not '
            'found).', 'Pass it again: --config-protected relayServerConnectionString=<primary connection string of '
                       'the azureml_rw rule>.')
    with_relay_key(protected, connection)
    if settings_now.get('relayserver.hybridConnectionName') != plan.hybrid_connection:
        public['relayserver.hybridConnectionName'] = plan.hybrid_connection   # older extensions


def delete_question(extension_name, ref, found, force, cleanup) -> str:
    """The confirmation asked before a delete: what stops working, --force's meaning, and the relay's fate."""
    lines = [f"Delete the AzureML extension '{extension_name}' from {ref.display}? Training jobs and inference "
             "endpoints on this cluster stop working, and compute targets attached to it fail until it is deployed "
             "again."]
    if force:
        lines.append('--force deletes the Azure resource even if the cluster cannot confirm the uninstall; '
                     'components may stay in the cluster.')
    ours = [f for f in found if f.owner in DELETABLE_OWNERS and f.kind == 'namespace']
    if ours and cleanup and _namespace_is_shared(ours[0]):
        lines.append(f"The Azure Relay namespace {ours[0].resource_id.rsplit('/', 1)[-1]} is kept: "
                     f"{_shared_reason(ours[0])}; --cleanup deletes only this extension's hybrid connection in it.")
    elif ours:
        lines.append((f"The Azure Relay namespace {ours[0].resource_id.rsplit('/', 1)[-1]} (created by "
                      f"{OWNER_NAMES[ours[0].owner]} for this extension) is "
                      f"{('deleted too (--cleanup)' if cleanup else 'kept (add --cleanup to delete it)')}."))
    return ' '.join(lines)


def _shared_reason(finding: 'RelayFinding') -> str:
    if finding.others is None:
        return 'its hybrid connections could not be listed, so another cluster may still use it'
    shown = ', '.join(finding.others[:5]) + (f' and {len(finding.others) - 5} more' if len(finding.others) > 5 else '')
    return f'it still holds the hybrid connection{"s" if len(finding.others) > 1 else ""} {shown} of another cluster'


def report_after_delete(client, found, cleanup, no_wait, say):
    """Delete (with --cleanup) the relay a tool made for this extension, and say what happens to every relay."""
    from azext_amlk8s._text import shell_quote
    for finding in found:
        if finding.kind != 'namespace' or finding.owner == 'missing':
            continue
        parts = finding.resource_id.split('/')
        name, group, subscription = parts[-1], parts[4], parts[2]
        maker = OWNER_NAMES.get(finding.owner, 'you')
        if finding.owner in DELETABLE_OWNERS and cleanup and _namespace_is_shared(finding):
            # A parent with other dependents is kept: only this extension's hybrid connection goes.
            own = [f.resource_id for f in found if f.kind == 'hybridConnection']
            for hc_id in own:
                delete_hybrid_connection(client, hc_id)
            say(f'Kept the Azure Relay namespace {name}: {_shared_reason(finding)}. Deleted only this extension\'s '
                f"hybrid connection {own[0].rsplit('/', 1)[-1] if own else ''}.".replace(' .', '.'))
        elif finding.owner in DELETABLE_OWNERS and cleanup:
            delete_namespace(client, group, name, subscription, no_wait=no_wait)
            say(f'Deleted the Azure Relay namespace {name} that {maker} created for this extension.')
        elif finding.owner in DELETABLE_OWNERS:
            say(f'Kept the Azure Relay namespace {name} that {maker} created for this extension (--cleanup would '
                f'have deleted it). If nothing else uses it: az relay namespace delete -g {shell_quote(group)} -n '
                f'{shell_quote(name)}')
        else:
            say(f'Kept the Azure Relay namespace {name}: it carries no tag of amlk8s or az k8s-extension, so it is '
                f'yours and amlk8s never deletes it. If nothing else uses it: az relay namespace delete -g '
                f'{shell_quote(group)} -n {shell_quote(name)}')
