# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""SDK clients, built by azure-cli-core (its credential, retry, user agent and safe logging policies).

The KubernetesConfiguration client (API 2023-05-01) does the extension's writes and long-running operations;
its pipeline also carries the plain ARM reads (``_transport``), so one pipeline and no other management SDK is loaded
for them.
"""


def cf_extensions_client(cli_ctx, subscription_id=None):
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    from azure.mgmt.kubernetesconfiguration.v2023_05_01 import SourceControlConfigurationClient
    from azext_amlk8s._transport import RetryNotice, ThrottleGate
    return get_mgmt_service_client(cli_ctx, SourceControlConfigurationClient, subscription_id=subscription_id,
                                   per_call_policies=[_own_operation_policy()],
                                   per_retry_policies=[ThrottleGate(), RetryNotice()])


def _own_operation_policy():
    from azext_amlk8s._transport import OwnOperationPolicy
    return OwnOperationPolicy()
