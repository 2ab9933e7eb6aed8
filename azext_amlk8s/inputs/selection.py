# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 1 for many clusters: the target clusters, from ``--ids`` or chosen with Azure Resource Graph.

- ``--where KQL``: a filter over the clusters' rows of table ``resources`` (tags, location, type, properties such
  as ``properties.kubernetesVersion``), in the scope of ``--subscriptions`` (default: the current one) or
  ``--management-groups`` (those groups and the groups below them); ``--cluster-types aks arc`` narrows the types
  and ``-g`` the resource group. One query, 1,000 rows a page (``$skipToken``), the user quota honoured
  (``fleet.graph_rows``). Resource Graph is the selector; ARM stays the actor.
- ``list --missing``: the AKS and Arc clusters of the selection without an AzureML extension (the extensions come
  from ``kubernetesconfigurationresources``, which cannot ``join``: the two row sets are joined here).
- A query Resource Graph refuses (400, ``InvalidQuery``) is a usage error (exit code 2) with Resource Graph's own
  words, its position mapped onto the ``--where`` text; nothing is sent to any cluster.

Sources: Resource Graph REST spec (resourcegraph.json 2022-10-01, Resources), "Understand the Azure Resource Graph
query language", "Working with large Azure resource data sets".
"""

import json
from typing import List, Optional

from azext_amlk8s._text import shell_quote

SELECTORS = ('where', 'management_groups', 'subscriptions', 'cluster_types')
CLUSTER_TYPES = {'aks': 'microsoft.containerservice/managedclusters', 'arc': 'microsoft.kubernetes/connectedclusters'}
_TYPE_NAMES = {'aks': 'aks', 'managedclusters': 'aks', 'microsoft.containerservice/managedclusters': 'aks',
               'arc': 'arc', 'connectedclusters': 'arc', 'microsoft.kubernetes/connectedclusters': 'arc'}
_PROJECT = (" | project id, name, type, location, resourceGroup, subscriptionId, tags,"
            " clusterState = tostring(properties.provisioningState),"
            " connectivityStatus = tostring(properties.connectivityStatus),"
            " powerState = tostring(properties.powerState.code) | order by id asc")


def selecting(args) -> bool:
    """Whether the clusters are to be chosen with Resource Graph (any of the selection arguments given)."""
    return any(args.get(key) for key in SELECTORS)


def cluster_types(values) -> List[str]:
    """``--cluster-types`` as aks/arc (also managedClusters/connectedClusters), each once; a bad one is an error."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    found = []
    for value in values or ():
        for item in str(value).replace(',', ' ').split():
            kind = _TYPE_NAMES.get(item.lower())
            if kind is None:
                raise InvalidArgumentValueError(f'--cluster-types: {item!r} is not a cluster type.',
                                                'Give aks, arc or both: --cluster-types aks arc')
            if kind not in found:
                found.append(kind)
    return found


def clusters_query(types=None, resource_group=None, where=None):
    """(the query, where the --where text starts in it): the AKS and Arc clusters of the selection."""
    from azext_amlk8s.act.fleet import kql_string
    wanted = ', '.join(kql_string(CLUSTER_TYPES[t]) for t in (types or ('aks', 'arc')))
    query = f'resources | where type in~ ({wanted})'
    if resource_group:
        query += f' | where resourceGroup =~ {kql_string(resource_group)}'
    start = None
    if where:
        query += ' | where '
        start = len(query)
        query += where
    return query + _PROJECT, start


def scope(cmd, args):
    """(subscriptions, management groups) the selection covers: --management-groups, else --subscriptions, else
    the current subscription."""
    from azure.cli.core.commands.client_factory import get_subscription_id
    from azext_amlk8s.act.fleet import check_subscription_ids
    groups = [g for value in args.get('management_groups') or () for g in str(value).replace(',', ' ').split()]
    subs = [s for value in args.get('subscriptions') or () for s in str(value).replace(',', ' ').split()]
    if groups and subs:
        from azure.cli.core.azclierror import MutuallyExclusiveArgumentError
        raise MutuallyExclusiveArgumentError('--management-groups and --subscriptions both give the scope of the '
                                             'selection.', 'Give one of them.')
    if groups:
        return [], list(dict.fromkeys(groups))
    subs = list(dict.fromkeys(subs or [get_subscription_id(cmd.cli_ctx)]))
    check_subscription_ids(subs)
    return subs, None


def cluster_rows(cmd, client, args, stats=None) -> list:
    """The Resource Graph rows of the selected clusters (one query, paged)."""
    from azure.core.exceptions import HttpResponseError
    from azext_amlk8s.act import fleet
    subscriptions, groups = scope(cmd, args)
    where = str(args.get('where') or '').strip() or None
    query, start = clusters_query(cluster_types(args.get('cluster_types')), args.get('resource_group_name'), where)
    try:
        return fleet.graph_rows(client, query, subscriptions, management_groups=groups, stats=stats)
    except HttpResponseError as ex:
        if ex.status_code == 400:
            usage_error(query_error(ex, start, where))
        if ex.status_code == 429:
            raise fleet.throttled_error() from None
        raise


def cluster_filter(args) -> str:
    """The KQL operators that narrow a clusters query to --cluster-types and --where ('' when neither)."""
    from azext_amlk8s.act.fleet import kql_string
    types = cluster_types(args.get('cluster_types'))
    where = str(args.get('where') or '').strip()
    text = f" | where type in~ ({', '.join(kql_string(CLUSTER_TYPES[t]) for t in types)})" if types else ''
    return text + (f' | where {where}' if where else '')


def extension_rows(cmd, client, args, **options) -> list:
    """list's rows (``fleet.fleet_list``) with --where and --cluster-types in its clusters query: still two queries;
    a filter Resource Graph refuses is a usage error, as for the selection."""
    from azure.core.exceptions import HttpResponseError
    from azext_amlk8s.act import fleet
    subscriptions, groups = scope(cmd, args)
    narrowing = cluster_filter(args)
    try:
        return fleet.fleet_list(client, subscriptions, args.get('resource_group_name'), management_groups=groups,
                                cluster_filter=narrowing, **options)
    except HttpResponseError as ex:
        if ex.status_code != 400 or not narrowing:
            raise
        query = fleet.queries(args.get('resource_group_name'), cluster_filter=narrowing)[1]
        where = str(args.get('where') or '').strip() or None
        usage_error(query_error(ex, query.find(f'| where {where}') + 8 if where else None, where))
        raise


def select(cmd, client, args, say) -> list:
    """The ClusterRefs the selection finds, in id order; says how many and in what scope."""
    from azext_amlk8s.facts.cluster import ClusterRef
    from azext_amlk8s.act.fleet import CLUSTER_ID
    rows = cluster_rows(cmd, client, args)
    refs = []
    for row in rows:
        found = CLUSTER_ID.match(str(row.get('id') or ''))
        if found:
            refs.append(ClusterRef(found.group('sub'), found.group('rg'), found.group('name'), found.group('type')))
    say(f"Resource Graph selected {len(refs)} cluster{'' if len(refs) == 1 else 's'} ({describe(cmd, args)}).")
    if not refs:
        from azure.cli.core.azclierror import ResourceNotFoundError
        raise ResourceNotFoundError(
            f'No cluster matches the selection ({describe(cmd, args)}): nothing was sent.',
            'See what Resource Graph has: az graph query -q "resources | where type in~ '
            "('microsoft.containerservice/managedclusters', 'microsoft.kubernetes/connectedclusters') | project "
            'name, resourceGroup, location, tags"')
    return refs


def describe(cmd, args) -> str:
    """The selection in words, as the user gave it."""
    subscriptions, groups = scope(cmd, args)
    parts = [f"management group{'s' if len(groups) > 1 else ''} {', '.join(groups)}" if groups else
             f"subscription{'s' if len(subscriptions) > 1 else ''} {', '.join(subscriptions)}"]
    if args.get('cluster_types'):
        parts.append('types ' + ', '.join(cluster_types(args.get('cluster_types'))))
    if args.get('resource_group_name'):
        parts.append(f"resource group {args['resource_group_name']}")
    if args.get('where'):
        parts.append(f"--where {shell_quote(str(args['where']))}")
    return '; '.join(parts)


def query_error(ex, start: Optional[int], where: Optional[str]) -> str:
    """Resource Graph's own words for a refused query (its details), the position mapped onto --where."""
    try:
        body = json.loads(ex.response.text())
    except (AttributeError, TypeError, ValueError):
        body = {}
    error = body.get('error') if isinstance(body, dict) and isinstance(body.get('error'), dict) else {}
    details = [d for d in error.get('details') or [] if isinstance(d, dict)]
    words = []
    for detail in details:
        text = ' '.join(str(detail.get('message') or detail.get('code') or '').split())
        position = detail.get('characterPositionInLine')
        if isinstance(position, int) and start is not None and where and start <= position <= start + len(where):
            text += f" at character {position - start + 1} of --where (near {str(detail.get('token') or '')!r})"
        if text:
            words.append(f"{detail.get('code')}: {text}" if detail.get('code') and detail.get('code') != text
                         else text)
    said = '; '.join(words) or ' '.join(str(error.get('message') or ex.message or '').split())
    return f'argument --where: Azure Resource Graph refused the selection query: {said}'


def usage_error(message):
    """Exit with code 2, as argparse does for a bad argument, after az's usual error line."""
    from azure.cli.core.azclierror import ArgumentUsageError
    error = ArgumentUsageError(message, "Test the filter on its own: az graph query -q \"resources | where "
                                        "<your filter> | project id\"")
    error.print_error()
    error.send_telemetry()
    raise SystemExit(2)


def missing(cmd, client, args) -> List[dict]:
    """``list --missing``: the selected AKS and Arc clusters that have no AzureML extension."""
    from concurrent.futures import ThreadPoolExecutor
    from azext_amlk8s.act import fleet
    subscriptions, groups = scope(cmd, args)
    with ThreadPoolExecutor(max_workers=2) as pool:
        clusters = pool.submit(cluster_rows, cmd, client, args)
        extensions = pool.submit(fleet.graph_rows, client, fleet.queries(args.get('resource_group_name'))[0],
                                 subscriptions, management_groups=groups)
        have = {fleet.cluster_of(str(e.get('id') or '')).lower() for e in fleet.throttled(extensions.result)}
        rows = clusters.result()
    return [{'clusterId': row.get('id'), 'clusterType': 'connectedClusters' if 'connectedclusters' in
             str(row.get('type') or '').lower() else 'managedClusters', 'location': row.get('location'),
             'resourceGroup': row.get('resourceGroup'), 'tags': row.get('tags') or {}}
            for row in rows if str(row.get('id') or '').lower() not in have]


# --- per-cluster values: --ids @clusters.csv (or JSON lines) ---------------------------------------------------------

_ID_COLUMNS = ('id', 'clusterid', 'cluster_id', 'resourceid', 'cluster')
_SELECTOR_COLUMNS = ('nodeselector', 'node-selector', '--node-selector', 'node_selector')


def id_table(values):
    """(refs, {cluster id: {column: value}}) when --ids was given a table (CSV with a header naming an id column,
    or JSON lines with an "id" key), else None (plain ids). Rows are numbered from 1 as the file has them."""
    if not values or len(values) != 1:
        return None
    text = str(values[0])
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    if lines[0].lstrip().startswith('{'):
        rows = []
        for number, line in enumerate(lines, 1):
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if not isinstance(row, dict):
                _table_error(f'line {number} is not a JSON object')
            rows.append((number, {str(k): '' if v is None else str(v) for k, v in row.items()}))
        return _table_rows(rows)
    import csv
    header = next(csv.reader([lines[0]]))
    if not any(cell.strip().lower() in _ID_COLUMNS for cell in header) or len(header) < 2:
        return None
    reader = csv.DictReader(lines)
    return _table_rows([(number, {str(k).strip(): str(v or '').strip() for k, v in row.items() if k is not None})
                        for number, row in enumerate(reader, 2)])


def _table_error(why):
    from azure.cli.core.azclierror import InvalidArgumentValueError
    raise InvalidArgumentValueError(f'--ids: the table given to --ids cannot be read: {why}.',
                                    'Give a CSV file whose header names an id column and the settings that differ '
                                    '(id,sslCname,nodeSelector), or JSON lines ({"id": "...", "sslCname": "..."}).')


def _table_rows(rows):
    from azext_amlk8s.act.fleet import parse_ids
    refs, values = [], {}
    for number, row in rows:
        id_key = next((k for k in row if k.strip().lower() in _ID_COLUMNS), None)
        if id_key is None or not row[id_key]:
            _table_error(f'row {number} has no cluster id')
        [ref] = parse_ids([row[id_key]])
        if ref.resource_id.lower() in values:
            _table_error(f'row {number} names cluster {ref.cluster_name} again')
        refs.append(ref)
        values[ref.resource_id.lower()] = {'row': number, 'columns': {k: v for k, v in row.items()
                                                                      if k != id_key and v != ''}}
    return refs, values


def row_arguments(columns, number):
    """The command's arguments for one row's columns: a documented setting by its key (sslCname) or its flag
    (--ssl-cname, ssl-cname) -> --config KEY=VALUE; nodeSelector -> --node-selector LABEL=VALUE ...; a setting
    that must be protected has no place in a file of ids."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    from azext_amlk8s._catalogue import CATALOGUE
    by_flag = {}
    for key in CATALOGUE.values():
        for flag in ((key.flag,) if key.flag else ()) + tuple(key.aliases):
            by_flag[flag.lstrip('-').lower()] = key
    config, selector = {}, {}
    for column, value in columns.items():
        name = column.strip()
        if name.lower() in _SELECTOR_COLUMNS:
            for pair in value.replace(';', ' ').split():
                label, _, wanted = pair.partition('=')
                if not label or not _:
                    raise InvalidArgumentValueError(f'--ids: row {number}, column {name}: a value is not '
                                                    'LABEL=VALUE.', 'For example agentpool=mlpool;gpu=true')
                selector[label] = wanted
            continue
        key = CATALOGUE.get(name) or by_flag.get(name.lstrip('-').lower())
        if key is None and not name.startswith('nodeSelector.'):
            raise InvalidArgumentValueError(
                f'--ids: row {number} has column {name!r}, which is neither a cluster id nor a documented setting.',
                'Name columns after the settings (sslCname, inferenceRouterServiceType, nodeSelector) or their '
                'flags (--ssl-cname, --ssl-secret).')
        if key is not None and key.protected is True:
            raise InvalidArgumentValueError(
                f'--ids: column {name!r} is a protected setting: secrets do not belong in the table of ids.',
                'Give it once for all clusters with --config-protected-file, or deploy that cluster on its own.')
        config[key.name if key is not None else name] = value
    found = {}
    if config:
        found['configuration_settings'] = config
    if selector:
        found['node_selector'] = selector
    return found


def merged_arguments(args, row, number):
    """The command line's arguments with one row's values; a setting both give is an error, not a silent choice."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    merged = dict(args)
    for dest, values in row_arguments(row, number).items():
        given = dict(args.get(dest) or {})
        both = sorted(k for k in values if k in given and given[k] != values[k])
        if both or (dest == 'node_selector' and given):
            raise InvalidArgumentValueError(
                f"--ids: row {number} sets {', '.join(both) or 'the node selector'}, which the command line sets "
                'too.', 'Give each setting either on the command line (the same for every cluster) or in the table.')
        merged[dest] = dict(given, **values)
    return merged


# --- list --policy: compliance with a policy, from Resource Graph's policyresources ---------------------------------

_POLICY_QUERY = (
    "policyresources | where type =~ 'microsoft.policyinsights/policystates'"
    " | where tostring(properties.policyDefinitionName) =~ {name}"
    " or tostring(properties.policyAssignmentName) =~ {name}"
    " | where tostring(properties.resourceType) in~ ('microsoft.containerservice/managedclusters',"
    " 'microsoft.kubernetes/connectedclusters')"
    " | project clusterId = tostring(properties.resourceId), complianceState = tostring(properties.complianceState),"
    " policyAssignment = tostring(properties.policyAssignmentName),"
    " policyDefinition = tostring(properties.policyDefinitionName), timestamp = tostring(properties.timestamp)"
    " | order by clusterId asc")


def policy_rows(cmd, client, args, say) -> List[dict]:
    """list --policy NAME: each cluster's compliance with the policy (definition or assignment name), one row per
    cluster and assignment; says how many comply."""
    from azext_amlk8s.act import fleet
    subscriptions, groups = scope(cmd, args)
    name = str(args.get('policy'))
    rows = fleet.throttled(lambda: fleet.graph_rows(client, _POLICY_QUERY.format(name=fleet.kql_string(name)),
                                                    subscriptions, management_groups=groups))
    for row in rows:
        row['clusterType'] = 'connectedClusters' if 'connectedclusters' in str(row.get('clusterId')).lower() \
            else 'managedClusters'
    compliant = sum(1 for r in rows if str(r.get('complianceState')).lower() == 'compliant')
    clusters = len({str(r.get('clusterId')).lower() for r in rows})
    say(f'Policy {name}: {compliant} of {len(rows)} compliance states compliant, over {clusters} '
        f"cluster{'' if clusters == 1 else 's'}." if rows else
        f'Policy {name}: Resource Graph has no compliance state for any AKS or Arc cluster of the scope (not '
        'assigned there, or not evaluated yet).')
    return rows
