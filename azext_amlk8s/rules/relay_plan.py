# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The Azure Relay an Arc cluster's extension needs, as names (pure): the namespace and hybrid connection az
k8s-extension would choose for the cluster, so a relay it created earlier is found and reused (``relay`` acts on
them)."""

import hashlib
from dataclasses import dataclass
from typing import Optional

RULE_NAME = 'azureml_rw'


def valid_name(text: str, suffix_len: int, max_len: int) -> str:
    """Alphanumerics only; when too long, truncated with an md5 suffix (az k8s-extension's ``_get_valid_name``)."""
    normalized = ''.join(ch for ch in text if ch.isalnum())
    if len(normalized) > max_len:
        digest = hashlib.md5(text.encode('utf-8')).hexdigest()[:suffix_len]  # nosec: a name, not security
        normalized = normalized[:max_len - suffix_len] + digest
    if not normalized[:1].isalpha():
        normalized = f"r{normalized}"[:max_len]
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
        return (f'/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/'
                f'Microsoft.Relay/namespaces/{self.namespace}')

    @property
    def hybrid_connection_id(self) -> str:
        return f'{self.namespace_id}/hybridConnections/{self.hybrid_connection}'


def plan_for(ref, location: str) -> RelayPlan:
    """The relay names for a cluster (the same as az k8s-extension chooses)."""
    namespace = valid_name(f'{ref.cluster_name}-{ref.subscription_id}-{ref.resource_group}-relay',
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
