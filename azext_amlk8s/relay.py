# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Azure Relay for Arc clusters: find or create, read the key, report and clean up.

On Azure Arc-enabled clusters the extension's relay server talks to Azure Machine Learning through an Azure Relay
hybrid connection in the cluster's resource group and location. Names follow az k8s-extension's scheme, so a relay
it created earlier is found and reused. What amlk8s creates is tagged, so `az amlk8s delete --cleanup` can tell it
apart from a relay the user brought or k8s-extension made.
"""

import hashlib
from dataclasses import dataclass
from typing import List, Optional

RULE_NAME = 'azureml_rw'
RULE_RIGHTS = ['Listen', 'Send', 'Manage']
TAG_KEY = 'created_by'
TAG_VALUE = 'amlk8s'
K8S_EXTENSION_TAG_VALUE = 'Azure Arc-enabled ML'
CLUSTER_TAG = 'amlk8s-cluster'


def valid_name(text: str, suffix_len: int, max_len: int) -> str:
    """Alphanumerics only; when too long, truncated with an md5 suffix (az k8s-extension's ``_get_valid_name``)."""
    normalized = ''.join(ch for ch in text if ch.isalnum())
    if len(normalized) > max_len:
        digest = hashlib.md5(text.encode('utf-8')).hexdigest()[:suffix_len]  # nosec: a name, not security
        normalized = normalized[:max_len - suffix_len] + digest
    if not normalized[:1].isalpha():
        normalized = ('r' + normalized)[:max_len]
    return normalized


@dataclass(frozen=True)
class RelayPlan:
    subscription_id: str
    resource_group: str
    location: str
    namespace: str
    hybrid_connection: str
    rule: str = RULE_NAME

    @property
    def namespace_id(self) -> str:
        return '/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Relay/namespaces/{}'.format(
            self.subscription_id, self.resource_group, self.namespace)

    @property
    def hybrid_connection_id(self) -> str:
        return '{}/hybridConnections/{}'.format(self.namespace_id, self.hybrid_connection)


def plan_for(ref, location: str) -> RelayPlan:
    """The relay names for a cluster (the same as az k8s-extension chooses)."""
    namespace = valid_name('{}-{}-{}-relay'.format(ref.cluster_name, ref.subscription_id, ref.resource_group),
                           suffix_len=6, max_len=50)
    return RelayPlan(ref.subscription_id, ref.resource_group, (location or '').lower(), namespace,
                     ref.cluster_name)


def parse_hybrid_connection_id(resource_id: str) -> Optional[RelayPlan]:
    parts = [p for p in (resource_id or '').split('/') if p]
    lowered = [p.lower() for p in parts]
    try:
        sub = parts[lowered.index('subscriptions') + 1]
        group = parts[lowered.index('resourcegroups') + 1]
        namespace = parts[lowered.index('namespaces') + 1]
        hybrid = parts[lowered.index('hybridconnections') + 1]
    except (ValueError, IndexError):
        return None
    return RelayPlan(sub, group, '', namespace, hybrid)


def _status(ex):
    return getattr(ex, 'status_code', None) or getattr(getattr(ex, 'response', None), 'status_code', None)


def _get_or_none(getter, *args):
    from azure.core.exceptions import HttpResponseError
    try:
        return getter(*args)
    except HttpResponseError as ex:
        if _status(ex) == 404:
            return None
        raise


def describe(client, plan: RelayPlan) -> dict:
    """Read-only: which of the relay's parts exist (for --dry-run)."""
    namespace = _get_or_none(client.namespaces.get, plan.resource_group, plan.namespace)
    hybrid = _get_or_none(client.hybrid_connections.get, plan.resource_group, plan.namespace,
                          plan.hybrid_connection) if namespace is not None else None
    return {'namespace': plan.namespace_id, 'namespaceExists': namespace is not None,
            'hybridConnection': plan.hybrid_connection_id, 'hybridConnectionExists': hybrid is not None}


def ensure(client, plan: RelayPlan, cluster_id: str, progress=None) -> str:
    """Find or create the namespace, hybrid connection and rule; return the rule's connection string.

    Every step reads first and creates only what is missing, so a rerun after a failed deploy reuses what the
    first run made. The key is read with logging disabled for that request: --debug never shows it.
    """
    from azure.mgmt.relay import models

    def say(message):
        if progress:
            progress(message)

    if _get_or_none(client.namespaces.get, plan.resource_group, plan.namespace) is None:
        say('Creating Azure Relay namespace {} in {}'.format(plan.namespace, plan.location))
        namespace = models.RelayNamespace(location=plan.location, sku=models.Sku(name='Standard', tier='Standard'),
                                          tags={TAG_KEY: TAG_VALUE, CLUSTER_TAG: cluster_id[-256:]})
        client.namespaces.begin_create_or_update(plan.resource_group, plan.namespace, namespace,
                                                 polling_interval=2).result()
    if _get_or_none(client.hybrid_connections.get, plan.resource_group, plan.namespace,
                    plan.hybrid_connection) is None:
        say('Creating hybrid connection {}'.format(plan.hybrid_connection))
        client.hybrid_connections.create_or_update(
            plan.resource_group, plan.namespace, plan.hybrid_connection,
            models.HybridConnection(properties=models.HybridConnectionProperties(requires_client_authorization=True)))
    if _get_or_none(client.hybrid_connections.get_authorization_rule, plan.resource_group, plan.namespace,
                    plan.hybrid_connection, plan.rule) is None:
        say('Creating authorization rule {} (Listen, Send, Manage)'.format(plan.rule))
        client.hybrid_connections.create_or_update_authorization_rule(
            plan.resource_group, plan.namespace, plan.hybrid_connection, plan.rule,
            models.AuthorizationRule(properties=models.AuthorizationRuleProperties(rights=RULE_RIGHTS)))
    keys = client.hybrid_connections.list_keys(plan.resource_group, plan.namespace, plan.hybrid_connection,
                                               plan.rule, logging_enable=False)
    return keys.primary_connection_string


def read_connection_string(client, plan: RelayPlan) -> Optional[str]:
    """The rule's connection string (for update's re-supply), or None when the relay is gone."""
    from azure.core.exceptions import HttpResponseError
    try:
        keys = client.hybrid_connections.list_keys(plan.resource_group, plan.namespace, plan.hybrid_connection,
                                                   plan.rule, logging_enable=False)
    except HttpResponseError as ex:
        if _status(ex) == 404:
            return None
        raise
    return keys.primary_connection_string


@dataclass
class RelayFinding:
    resource_id: str
    kind: str                 # 'namespace' | 'hybridConnection'
    owner: str                # 'amlk8s' | 'k8s-extension' | 'user' | 'missing'
    action: str = 'kept'      # 'kept' | 'deleted' | 'to delete'

    def to_dict(self):
        return {'id': self.resource_id, 'kind': self.kind, 'createdBy': self.owner, 'action': self.action}


def owned_resources(client, settings: dict) -> List[RelayFinding]:
    """The relay resources behind an extension's settings, and who created them."""
    hc_id = settings.get('relayserver.hybridConnectionResourceID')
    plan = parse_hybrid_connection_id(hc_id) if hc_id else None
    if plan is None:
        return []
    namespace = _get_or_none(client.namespaces.get, plan.resource_group, plan.namespace)
    if namespace is None:
        return [RelayFinding(plan.namespace_id, 'namespace', 'missing')]
    tags = {k.lower(): v for k, v in (namespace.tags or {}).items()}
    created_by = tags.get(TAG_KEY)
    owner = 'amlk8s' if created_by == TAG_VALUE else 'k8s-extension' if created_by == K8S_EXTENSION_TAG_VALUE \
        else 'user'
    return [RelayFinding(plan.namespace_id, 'namespace', owner),
            RelayFinding(plan.hybrid_connection_id, 'hybridConnection', owner)]


def delete_namespace(client, resource_group: str, namespace: str, no_wait: bool = False):
    poller = client.namespaces.begin_delete(resource_group, namespace, polling_interval=2)
    if not no_wait:
        poller.result()
