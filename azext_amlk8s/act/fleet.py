# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Many clusters: the fleet listing (Azure Resource Graph) and the per-cluster fan-out of ``--ids``.

- ``fleet_list``: every AzureML extension in the given subscriptions, from Resource Graph
  (``POST /providers/Microsoft.ResourceGraph/resources``, API 2022-10-01): the extensions from table
  ``kubernetesconfigurationresources`` (which cannot ``join``), the clusters from ``resources`` in a second query,
  joined here. Pages follow ``$skipToken`` (1,000 rows a page); the user quota headers (``x-ms-user-quota-remaining``,
  ``x-ms-user-quota-resets-after``) are honoured before the next query; a 429 is retried after its ``Retry-After`` by
  the client pipeline.
- ``for_each``: the same per-cluster job for each ``--ids`` cluster, a few at a time, each result tagged with its
  cluster id, one confirmation for the whole list, a summary line, and a non-zero exit unless every cluster succeeded.
  One cluster failing never stops the others. (azure-cli core's generic ``--ids`` runner pairs errors with the wrong id
  and prints bare results, so amlk8s has its own.)
- Throttling: every request goes through ``_transport.ThrottleGate`` (ARM's per-subscription token buckets; after a
  429 every worker of that subscription waits out its ``Retry-After``).
"""

import re
import threading
import time
from typing import List, Optional

from azext_amlk8s._constants import CONNECTED, EXTENSION_TYPE_LOWER, MANAGED, RESOURCE_GRAPH_API
from azext_amlk8s._text import shell_quote

GRAPH_PATH = '/providers/Microsoft.ResourceGraph/resources'
PAGE_SIZE = 1000
MAX_SUBSCRIPTIONS_PER_QUERY = 300
DEFAULT_PARALLEL = 20

# Microsoft's Resource Graph samples spell extension properties in PascalCase (properties.ExtensionType); read the
# camelCase spelling too, as the documentation does not say the other keys are PascalCase.
_PROP = "coalesce(tostring(properties.{pascal}), tostring(properties.{camel}))"
EXTENSIONS_QUERY = (
    "kubernetesconfigurationresources"
    " | where type =~ 'microsoft.kubernetesconfiguration/extensions'"
    f" | where tolower({_PROP.format(pascal='ExtensionType', camel='extensionType')}) == '{EXTENSION_TYPE_LOWER}'"
    "{group}"
    " | project id, name, subscriptionId, resourceGroup,"
    f" provisioningState = {_PROP.format(pascal='ProvisioningState', camel='provisioningState')},"
    f" version = {_PROP.format(pascal='InstalledVersion', camel='currentVersion')},"
    f" pinned = {_PROP.format(pascal='Version', camel='version')},"
    f" releaseTrain = {_PROP.format(pascal='ReleaseTrain', camel='releaseTrain')},"
    f" autoUpgrade = {_PROP.format(pascal='AutoUpgradeMinorVersion', camel='autoUpgradeMinorVersion')},"
    " errorInfo = coalesce(properties.ErrorInfo, properties.errorInfo),"
    " statuses = coalesce(properties.Statuses, properties.statuses)"
    " | order by id asc")
CLUSTERS_QUERY = (
    "resources"
    " | where type in~ ('microsoft.containerservice/managedclusters', 'microsoft.kubernetes/connectedclusters')"
    "{group}"
    " | project id, type, location, clusterState = tostring(properties.provisioningState),"
    " connectivityStatus = tostring(properties.connectivityStatus), powerState = tostring(properties.powerState.code)"
    " | order by id asc")

CLUSTER_ID = re.compile(r'^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/'
                        r'(?P<rp>Microsoft\.ContainerService|Microsoft\.Kubernetes)/(?P<type>managedClusters|'
                        r'connectedClusters)/(?P<name>[^/]+)$', re.IGNORECASE)


_EXTENSION_ID = re.compile(r'^(?P<cluster>/subscriptions/[^/]+/resourceGroups/[^/]+/providers/'
                           r'(?:Microsoft\.ContainerService|Microsoft\.Kubernetes)/(?:managedClusters|'
                           r'connectedClusters)/[^/]+)/providers/Microsoft\.KubernetesConfiguration/extensions/'
                           r'(?P<ext>[^/]+)$', re.IGNORECASE)


def kql_string(value: str) -> str:
    return "'" + value.replace('\\', '\\\\').replace("'", "\\'") + "'"


def queries(resource_group: Optional[str] = None, settings: bool = False, cluster_filter: str = ''):
    """(extensions query, clusters query), narrowed to one resource group when given; ``settings`` adds the
    extensions' public configuration settings (list --drift compares them); ``cluster_filter`` (KQL operators)
    narrows the clusters query (list --where, --cluster-types)."""
    group = f' | where resourceGroup =~ {kql_string(resource_group)}' if resource_group else ''
    extensions = EXTENSIONS_QUERY.replace('{group}', group)
    if settings:
        extensions = extensions.replace(
            ' | order by id asc', ', settings = coalesce(properties.ConfigurationSettings, '
                                  'properties.configurationSettings) | order by id asc')
    return extensions, CLUSTERS_QUERY.replace('{group}', group + cluster_filter)


def _quota_pause(headers):
    """Seconds to wait before the next query when the user's Resource Graph quota is spent (0 otherwise)."""
    remaining = headers.get('x-ms-user-quota-remaining') if headers else None
    resets = headers.get('x-ms-user-quota-resets-after') if headers else None
    if remaining in (None, '') or str(remaining).strip() not in ('0',):
        return 0.0
    try:
        hours, minutes, seconds = (float(part) for part in str(resets).split(':'))
    except (TypeError, ValueError):
        return 1.0
    return min(hours * 3600 + minutes * 60 + seconds, 60.0)


def graph_rows(client, query: str, subscriptions: List[str], *, page_size: int = PAGE_SIZE, stats=None,
               management_groups: Optional[List[str]] = None) -> list:
    """Every row of a Resource Graph query, following $skipToken; at most 300 subscriptions a query. With
    ``management_groups`` the query's scope is those groups (and the groups below them) instead of subscriptions."""
    from azext_amlk8s._transport import arm_post
    rows = []
    if management_groups:
        scopes = [('managementGroups', list(management_groups))]
    else:
        scopes = [('subscriptions', subscriptions[start:start + MAX_SUBSCRIPTIONS_PER_QUERY])
                  for start in range(0, len(subscriptions), MAX_SUBSCRIPTIONS_PER_QUERY)]
    for scope, chunk in scopes:
        token, pause = None, 0.0
        while True:
            if pause:
                time.sleep(pause)
            options = {'$top': page_size, 'resultFormat': 'objectArray'}
            if token:
                options['$skipToken'] = token
            response = arm_post(client, GRAPH_PATH, RESOURCE_GRAPH_API,
                                {scope: chunk, 'query': query, 'options': options})
            if stats is not None:
                stats['queries'] = stats.get('queries', 0) + 1
            body = response.body or {}
            data = body.get('data')
            rows.extend(data if isinstance(data, list) else [])
            token = body.get('$skipToken')
            pause = _quota_pause(response.headers)
            if not token:
                break
    return rows


def cluster_of(extension_id: str) -> str:
    return re.split(r'/providers/Microsoft\.KubernetesConfiguration/', extension_id, flags=re.IGNORECASE)[0]


def _error_summary(row) -> Optional[str]:
    """One line saying why an extension is not healthy: its errorInfo, else its first Error status."""
    info = row.get('errorInfo') if isinstance(row.get('errorInfo'), dict) else {}
    message = info.get('message') or info.get('Message')
    if not message:
        for status in row.get('statuses') if isinstance(row.get('statuses'), list) else []:
            if isinstance(status, dict) and str(status.get('level') or status.get('Level') or '').lower() == 'error':
                message = status.get('message') or status.get('Message')
                break
    if not message:
        return None
    text = ' '.join(str(message).split())
    code = info.get('code') or info.get('Code')
    text = f'({code}) {text}' if code else text
    return text if len(text) <= 160 else text[:157] + '...'


def _cluster_note(cluster) -> Optional[str]:
    if not cluster:
        return 'the cluster resource was not found'
    if cluster.get('connectivityStatus') and cluster['connectivityStatus'].lower() != 'connected':
        return f"the Arc cluster is {cluster['connectivityStatus']}"
    if (cluster.get('powerState') or '').lower() == 'stopped':
        return 'the AKS cluster is stopped'
    return None


def fleet_rows(extensions: list, clusters: list, only_listed: bool = False) -> List[dict]:
    """One row per AzureML extension: the cluster, the extension's state and version, and a one-line error summary
    when it is not healthy (the extension failed, or its cluster is offline, stopped or gone). ``only_listed``:
    only the extensions of the clusters given (a filtered clusters query)."""
    by_id = {str(c.get('id') or '').lower(): c for c in clusters}
    rows = []
    for ext in extensions:
        cluster_id = cluster_of(str(ext.get('id') or ''))
        found = CLUSTER_ID.match(cluster_id)
        cluster = by_id.get(cluster_id.lower())
        if only_listed and cluster is None:
            continue
        state = ext.get('provisioningState') or None
        error = _error_summary(ext) if str(state or '').lower() != 'succeeded' else None
        note = _cluster_note(cluster)
        healthy = str(state or '').lower() == 'succeeded' and note is None
        if not healthy and error is None:
            error = note or f'provisioningState {state or "unknown"}'
        auto = ext.get('autoUpgrade')
        rows.append({
            'clusterId': found.group(0) if found else cluster_id,
            'clusterType': ((MANAGED if found.group('type').lower() == MANAGED.lower() else CONNECTED)
                            if found else None),
            'name': ext.get('name'),
            'provisioningState': state,
            'version': ext.get('version') or ext.get('pinned') or None,
            'releaseTrain': ext.get('releaseTrain') or None,
            'autoUpgradeMinorVersion': auto if isinstance(auto, bool) else {'true': True, 'false': False}.get(
                str(auto).lower()),
            'healthy': healthy,
            'error': error,
        })
        if isinstance(ext.get('settings'), dict):
            rows[-1]['configurationSettings'] = ext['settings']
    return rows


SUBSCRIPTIONS_QUERY = ("resourcecontainers | where type =~ 'microsoft.resources/subscriptions' "
                       '| project id, subscriptionId')
_GUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', re.IGNORECASE)


def check_subscription_ids(subscriptions: List[str]):
    """--subscriptions takes subscription ids (GUIDs); a name or a typo is a clear error, not an empty list."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    from azext_amlk8s._validators import shown_value
    for value in subscriptions:
        if not _GUID.match(value):
            raise InvalidArgumentValueError(
                f'--subscriptions: {shown_value(value)} is not a subscription id (a GUID such as '
                '0b1f6471-1bf0-4dda-aec3-111122223333).',
                'List yours: az account list --query "[].{name:name, id:id}" -o table')


def fleet_list(client, subscriptions: List[str], resource_group: Optional[str] = None, stats=None, *,
               say=None, management_groups: Optional[List[str]] = None, settings: bool = False,
               cluster_filter: str = '') -> List[dict]:
    """Every AzureML extension in ``subscriptions`` (two Resource Graph queries, run concurrently). With ``say``
    (subscriptions the user named) a third query finds the subscriptions Resource Graph can see: it leaves out the
    others without a word, so each one left out is said, and none seen at all is an error."""
    from concurrent.futures import ThreadPoolExecutor
    extensions_query, clusters_query = queries(resource_group, settings, cluster_filter)
    with ThreadPoolExecutor(max_workers=3) as pool:
        extensions = pool.submit(graph_rows, client, extensions_query, subscriptions, stats=stats,
                                 management_groups=management_groups)
        clusters = pool.submit(graph_rows, client, clusters_query, subscriptions, stats=stats,
                               management_groups=management_groups)
        seen = pool.submit(graph_rows, client, SUBSCRIPTIONS_QUERY, subscriptions, stats=stats) \
            if say and not management_groups else None
        rows = fleet_rows(throttled(extensions.result), throttled(clusters.result), only_listed=bool(cluster_filter))
        if seen is not None:
            _say_unseen(subscriptions, throttled(seen.result), say)
        return rows


def _say_unseen(subscriptions, seen_rows, say):
    from azure.cli.core.azclierror import ResourceNotFoundError
    seen = {str(r.get('subscriptionId') or '').lower() for r in seen_rows}
    unseen = [s for s in subscriptions if s.lower() not in seen]
    if unseen and len(unseen) == len(subscriptions):
        raise ResourceNotFoundError(
            f"Subscription{'s' if len(unseen) > 1 else ''} {', '.join(unseen)} cannot be read with the signed-in "
            'account: not found, or no access (Resource Graph leaves them out).',
            'Check the ids and your access: az account list --query "[].id" -o tsv')
    for subscription in unseen:
        say(f'Subscription {subscription} cannot be read with the signed-in account (not found, or no access): '
            'its extensions are not listed.')


def throttled(result):
    """The query's rows; Resource Graph still throttling after the client's retries is a clear error."""
    from azure.core.exceptions import HttpResponseError
    try:
        return result()
    except HttpResponseError as ex:
        if ex.status_code != 429:
            raise
        raise throttled_error() from None


def throttled_error():
    """The error for Resource Graph still throttling after the client's retries: clear, not a raw 429."""
    from azure.cli.core.azclierror import AzureResponseError
    return AzureResponseError(
        'Azure Resource Graph kept refusing the queries (429 Too Many Requests) after retrying: the quota of the '
        'signed-in account (about 15 queries in 5 seconds, shared with every other Resource Graph client it '
        'runs) is spent.',
        'Wait a few seconds and run the command again; narrow it (-g, fewer --subscriptions) or run fewer '
        'Resource Graph clients at the same time.')


# --- --ids ----------------------------------------------------------------------------------------------------------

def parse_ids(values) -> list:
    """Cluster resource ids from --ids (space-, comma- or newline-separated; `@file` is expanded by az), AKS and Arc
    mixed, each once."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    from azext_amlk8s.facts.cluster import ClusterRef
    from azext_amlk8s._validators import looks_secret, shown_value
    refs, seen, count = [], set(), 0
    for value in values or ():
        for item in re.split(r'[\s,]+', str(value)):
            if not item:
                continue
            count += 1
            found = CLUSTER_ID.match(item.rstrip('/'))
            extension = _EXTENSION_ID.match(item.rstrip('/')) if not found else None
            if extension and not looks_secret(item):
                # az's own --ids takes the ids of the resource the command group is about; here that is the cluster.
                raise InvalidArgumentValueError(
                    f"--ids: id {count} is the id of the extension '{extension.group('ext')}', not of a cluster: "
                    'amlk8s --ids takes cluster resource ids (the extension is chosen with -n).',
                    f"Give the cluster's id instead: {extension.group('cluster')}"
                    + (f" -n {shell_quote(extension.group('ext'))}" if extension.group('ext').lower() != 'azureml'
                       else ''))
            if not found:
                raise InvalidArgumentValueError(
                    f'--ids: id {count} ({shown_value(item)}) is not the resource id of an AKS or Azure Arc-enabled '
                    'cluster.',
                    'Give ids such as /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ContainerService/'
                    'managedClusters/<name> or .../providers/Microsoft.Kubernetes/connectedClusters/<name>, for '
                    'example from az amlk8s list --query "[].clusterId" -o tsv.')
            ref = ClusterRef(found.group('sub'), found.group('rg'), found.group('name'), found.group('type'))
            if ref.resource_id.lower() not in seen:
                seen.add(ref.resource_id.lower())
                refs.append(ref)
    if not refs:
        raise InvalidArgumentValueError('--ids names no cluster.', 'Give at least one cluster resource id.')
    return refs


_LOCAL = threading.local()


def collecting():
    """The per-cluster job's collector when it runs under ``for_each`` (else None): a failure that a single-cluster
    command would raise after printing its report is recorded here instead."""
    return getattr(_LOCAL, 'collector', None)


SUCCEEDED, FAILED, SKIPPED = 'succeeded', 'failed', 'skipped'


def for_each(cmd, refs, job, *, parallel=DEFAULT_PARALLEL, say=None) -> List[dict]:
    """Run ``job(client, ref)`` for every cluster, ``parallel`` at a time; one entry per cluster, in the given order:
    ``{"clusterId", "status", "result", "error"}``. A job returns its result, or ``(SKIPPED, result)`` when it sent
    nothing because nothing had to change."""
    from concurrent.futures import ThreadPoolExecutor
    from azure.cli.core.azclierror import AzCLIError
    from azure.core.exceptions import AzureError
    from azext_amlk8s._client_factory import cf_extensions_client
    from azure.cli.core.util import todict

    def one(ref):
        _LOCAL.collector = {'subscription': ref.subscription_id}
        try:
            client = cf_extensions_client(cmd.cli_ctx, subscription_id=ref.subscription_id)
            outcome = job(client, ref)
            status, result = outcome if isinstance(outcome, tuple) else (SUCCEEDED, outcome)
            error = _LOCAL.collector.get('error')
            if error is not None:
                return _entry(ref, FAILED, todict(result), error)
            return _entry(ref, status, todict(result), None)
        except (AzCLIError, AzureError) as ex:
            return _entry(ref, FAILED, None, ex)
        # One cluster's failure never stops the others.
        except Exception as ex:  # pylint: disable=broad-except
            return _entry(ref, FAILED, None, ex)
        finally:
            _LOCAL.collector = None
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(refs)))) as pool:
        entries = list(pool.map(one, refs))
    counts = {status: sum(1 for e in entries if e['status'] == status) for status in (SUCCEEDED, FAILED, SKIPPED)}
    (say or (lambda text: None))(f"{len(entries)} cluster{'' if len(entries) == 1 else 's'}: {counts[SUCCEEDED]} "
                                 f"succeeded, {counts[FAILED]} failed, {counts[SKIPPED]} skipped.")
    return entries


def _entry(ref, status, result, error):
    message = None
    if error is not None:
        message = getattr(error, 'error_msg', None) or str(error)
        recommendations = getattr(error, 'recommendations', None) or []
        message = ' '.join([' '.join(str(message).split())] + [str(r) for r in recommendations])
    return {'clusterId': ref.resource_id, 'status': status, 'result': result, 'error': message}


def failed_error(entries, *, stopped=None, resume=None):
    """The error the command exits with when any cluster failed (raised after the results are printed); a stopped
    rollout (``stopped``: why) says so and gives the command that resumes it."""
    from azure.cli.core.azclierror import ValidationError
    failed = [e for e in entries if e['status'] == FAILED]
    if not failed:
        return None
    short = [e['clusterId'].rsplit('/', 1)[-1].lower() for e in entries]
    # A name that repeats (same-named clusters in other groups or subscriptions) is given as its whole id.
    names = ', '.join(e['clusterId'] if short.count(e['clusterId'].rsplit('/', 1)[-1].lower()) > 1 else
                      e['clusterId'].rsplit('/', 1)[-1] for e in failed[:10]) + (', ...' if len(failed) > 10 else '')
    if stopped:
        return ValidationError(f'{stopped} Failed: {names}.',
                               'Each result above names its cluster, stage and diagnosis. Fix them, then resume the '
                               f'rollout with the same command (clusters already as asked are skipped): {resume}')
    return ValidationError(f"{len(failed)} of {len(entries)} cluster{'' if len(entries) == 1 else 's'} failed: "
                           f'{names}.', 'Each result above names its cluster and error; run the same command again '
                                        'after fixing them: clusters that already succeeded are not changed again.')
