# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Steps 4-5 for many clusters: the command for each target cluster, in one wave or in gated stages.

- Targets: ``--ids`` (``fleet.parse_ids``) or a Resource Graph selection (``selection.select``), in a fixed order
  (cluster id), so that a stage holds the same clusters every time the command runs.
- ``--stages 1,10%,100%``: cumulative counts or percentages of the targets; stage k is the clusters after stage
  k-1's, up to its count. Each stage runs fully in parallel (within ARM's per-subscription buckets, which
  ``_transport.ThrottleGate`` keeps), then its gate: every cluster the stage changed or found at the desired state
  is verified (``verify``: Succeeded, and in-cluster where the cluster can be read). A stage with more failures
  (write or gate) than ``--max-failures N|P%`` (default 0) stops the rollout: no later stage gets a write, the
  command exits 1 with what changed, what failed (verify's diagnosis) and the command that resumes it (the same
  command: clusters already at the desired state are skipped). ``--stage-wait SECONDS`` waits between stages.
  With ``--dry-run`` every stage's plan is printed and nothing is written or gated.

Azure Kubernetes Fleet Manager's update runs (stages, waits, gates) are the model; no state is kept anywhere but
in Azure (re-running reads it again).
"""

import math
import sys
import time
from typing import List

from azext_amlk8s._text import shell_quote

NOT_STARTED = 'not started'
MAX_STAGE_PARALLEL = 100
# Flags whose values are secret: shown as <as given> in the resume command.
_SECRET_FLAGS = ('--config-protected', '--configuration-protected-settings', '--config-protected-settings')


def parse_stages(text, total: int) -> List[int]:
    """``1,10%,100%`` -> cumulative cluster counts for ``total`` targets (each at least one more than the last;
    a percentage rounds up, and one that adds no cluster on a small selection is left out; counts beyond the
    targets stop at them)."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    counts = []
    items = [i for i in str(text or '').replace(' ', ',').split(',') if i]
    for item in items:
        try:
            if item.endswith('%'):
                share = float(item[:-1])
                if not 0 < share <= 100:
                    raise ValueError(item)
                count = max(1, math.ceil(total * share / 100.0 - 1e-9))
            else:
                count = int(item)
                if count < 1:
                    raise ValueError(item)
        except ValueError:
            raise InvalidArgumentValueError(
                f'--stages: {item!r} is neither a number of clusters nor a percentage.',
                'Give cumulative counts or percentages, for example --stages 1,10%,100%') from None
        count = min(count, total)
        if counts and count <= counts[-1]:
            if item.endswith('%') or count == total:
                continue    # a share that adds no cluster on a small selection (1,10%,100% of 3 clusters)
            raise InvalidArgumentValueError(
                f'--stages: {item} ({count} clusters) does not go beyond the stage before it ({counts[-1]}): the '
                'stages are cumulative.', 'Give growing counts, for example --stages 1,10%,100%')
        counts.append(count)
    if not counts:
        raise InvalidArgumentValueError('--stages names no stage.', 'For example --stages 1,10%,100%')
    return counts


def allowed_failures(text, size: int) -> int:
    """``--max-failures N|P%`` for a stage of ``size`` clusters (a percentage rounds down)."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    value = str(text if text is not None else '0').strip()
    try:
        if value.endswith('%'):
            share = float(value[:-1])
            if not 0 <= share <= 100:
                raise ValueError(value)
            return int(math.floor(size * share / 100.0 + 1e-9))
        count = int(value)
        if count < 0:
            raise ValueError(value)
        return count
    except ValueError:
        raise InvalidArgumentValueError(f'--max-failures: {value!r} is neither a number of clusters nor a '
                                        'percentage.', 'For example --max-failures 0 (the default), 2 or 5%') from None


def plan(refs, counts) -> List[list]:
    """The clusters of each stage."""
    stages, start = [], 0
    for count in counts:
        stages.append(refs[start:count])
        start = count
    return stages


def resume_command(argv=None) -> str:
    """The command as it was typed (secret values shown as <as given>), to run again."""
    args, shown, secret = list(sys.argv[1:] if argv is None else argv), [], False
    for arg in args:
        if arg.startswith('-'):
            secret = arg.split('=', 1)[0] in _SECRET_FLAGS
            shown.append(shell_quote(arg.split('=', 1)[0] + '=<as given>') if secret and '=' in arg else
                         shell_quote(arg))
            continue
        shown.append(f"{shell_quote(arg.split('=', 1)[0])}=<as given>" if secret and '=' in arg else
                     '<as given>' if secret else shell_quote(arg))
    return 'az ' + ' '.join(shown)


def run(cmd, refs, job, *, gate, stages, max_failures, stage_wait, dry_run, parallel, say):
    """Every stage in turn; the entries of all targets, each with its ``stage`` (clusters after a stop are
    ``not started``). Returns (entries, stop message or None)."""
    from azext_amlk8s.act import fleet
    counts = parse_stages(stages, len(refs))
    groups = plan(refs, counts)
    entries, stopped = [], None
    for number, group in enumerate(groups, 1):
        if stopped:
            entries += [dict(_not_started(ref), stage=number) for ref in group]
            continue
        say(f"Stage {number} of {len(groups)}: {len(group)} cluster{'' if len(group) == 1 else 's'}"
            + (' (dry run: nothing is written)' if dry_run else '') + '.')
        width = parallel or min(len(group), MAX_STAGE_PARALLEL)
        done = fleet.for_each(cmd, group, job, parallel=width, say=say)
        if not dry_run:
            done = _gated(cmd, group, done, gate=gate, width=width, say=say)
        entries += [dict(e, stage=number) for e in done]
        failed = [e for e in done if e['status'] == fleet.FAILED]
        allowed = allowed_failures(max_failures, len(group))
        if not dry_run and len(failed) > allowed:
            stopped = (f'Stage {number} of {len(groups)} had {len(failed)} failed cluster'
                       f"{'' if len(failed) == 1 else 's'} (at most {allowed} allowed with --max-failures): the "
                       'rollout stopped before the next stage.')
        elif number < len(groups) and stage_wait and not dry_run:
            say(f'Waiting {stage_wait} s before stage {number + 1} (--stage-wait).')
            time.sleep(float(stage_wait))
    left = refs[counts[-1]:]
    entries += [dict(_not_started(ref), stage=None) for ref in left]
    if left and not stopped:
        say(f"{len(left)} cluster{'' if len(left) == 1 else 's'} are in no stage (the last stage covers "
            f'{counts[-1]} of {len(refs)}); a later run with a larger last stage reaches them.')
    return entries, stopped


def _not_started(ref):
    return {'clusterId': ref.resource_id, 'status': NOT_STARTED, 'result': None, 'error': None}


def _gated(cmd, group, done, *, gate, width, say):
    """The stage's entries after its gate: a changed or skipped cluster that verify does not pass has failed.
    ``gate(client, ref, extension_name)`` is verify for one cluster."""
    from azext_amlk8s.act import fleet
    by_id = {ref.resource_id: ref for ref in group}
    passed = [by_id[e['clusterId']] for e in done if e['status'] in (fleet.SUCCEEDED, fleet.SKIPPED)]
    if not passed:
        return done
    names = {e['clusterId']: (e.get('result') or {}).get('name') if isinstance(e.get('result'), dict) else None
             for e in done}
    say(f"Gate: verifying the {len(passed)} cluster{'' if len(passed) == 1 else 's'} of this stage.")
    checks = {e['clusterId']: e for e in fleet.for_each(
        cmd, passed, lambda client, ref: gate(client, ref, names.get(ref.resource_id)), parallel=width,
        say=lambda _: None)}
    result = []
    for entry in done:
        check = checks.get(entry['clusterId'])
        if check is None:
            result.append(entry)
            continue
        verdict = (check.get('result') or {}).get('verdict') if isinstance(check.get('result'), dict) else None
        gate_info = {'verdict': verdict, 'passed': check['status'] != fleet.FAILED}
        if check['status'] == fleet.FAILED:
            result.append(dict(entry, status=fleet.FAILED, gate=gate_info,
                               error=f"The gate's verify did not pass: {check.get('error')}"))
        else:
            result.append(dict(entry, gate=gate_info))
    return result


def summary(entries, stopped) -> str:
    """The final line: how many changed, skipped, failed and not started, and whether the rollout stopped."""
    from azext_amlk8s.act import fleet
    counts = {s: sum(1 for e in entries if e['status'] == s)
              for s in (fleet.SUCCEEDED, fleet.SKIPPED, fleet.FAILED, NOT_STARTED)}
    text = (f"Rollout over {len(entries)} cluster{'' if len(entries) == 1 else 's'}: {counts[fleet.SUCCEEDED]} "
            f'changed, {counts[fleet.SKIPPED]} already as asked, {counts[fleet.FAILED]} failed, '
            f'{counts[NOT_STARTED]} not started.')
    return f'{text} {stopped}' if stopped else text


# Arguments that choose the clusters or shape the rollout: not passed on to the per-cluster command.
NOT_FORWARDED = ('cmd', 'client', 'ids', 'max_parallel', 'settings_args', 'live_args', 'resource_group_name',
                 'cluster_name', 'cluster_type', 'where', 'management_groups', 'subscriptions', 'cluster_types',
                 'stages', 'max_failures', 'stage_wait')


def targets(cmd, raw, say):
    """(the clusters, the values of an --ids table by cluster id): --ids, or the Resource Graph selection (which -g
    narrows); -c/-t name one cluster and cannot be given with either."""
    from azure.cli.core.azclierror import MutuallyExclusiveArgumentError
    from azext_amlk8s.act import fleet
    from azext_amlk8s.inputs import selection
    chosen = selection.selecting(raw)
    for option, flag in (('resource_group_name', '-g'), ('cluster_name', '-c'), ('cluster_type', '-t')):
        if raw.get(option) and not (chosen and option == 'resource_group_name'):
            how = '--ids names the clusters' if raw.get('ids') else 'the selection (--where, --subscriptions, ' \
                '--management-groups, --cluster-types) chooses the clusters'
            raise MutuallyExclusiveArgumentError(f'{how}; {flag} cannot be given with it.',
                                                 'Give either the selection or --ids, or --resource-group, '
                                                 '--cluster-name and --cluster-type.')
    if raw.get('ids') and chosen:
        raise MutuallyExclusiveArgumentError('--ids and the selection arguments (--where, --subscriptions, '
                                             '--management-groups, --cluster-types) both name the clusters.',
                                             'Give one of them.')
    if not chosen:
        table = selection.id_table(raw['ids'])
        return table if table is not None else (fleet.parse_ids(raw['ids']), {})
    from azext_amlk8s._client_factory import cf_extensions_client
    return selection.select(cmd, cf_extensions_client(cmd.cli_ctx), raw, say), {}


_PLACEHOLDERS = ('{cluster}', '{resource_group}', '{subscription}')


def compute_names(cmd, refs, args) -> dict:
    """attach for many clusters: each cluster's arguments with its compute name from the --compute-name pattern
    ({cluster}, {resource_group}, {subscription}); every name checked, and no two alike, before anything is sent."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    from azext_amlk8s.inputs import request
    pattern = str(args.get('compute_name') or '')
    if len(refs) > 1 and not any(p in pattern for p in _PLACEHOLDERS):
        raise InvalidArgumentValueError(
            f'--compute-name: one name for {len(refs)} clusters would attach them all as the same compute.',
            'Give a pattern, for example --compute-name "{cluster}" or "k8s-{cluster}" ({resource_group} and '
            '{subscription} work too).')
    found, seen, problems = {}, {}, []
    for ref in refs:
        name = pattern.replace('{cluster}', ref.cluster_name).replace('{resource_group}', ref.resource_group) \
            .replace('{subscription}', ref.subscription_id)
        merged = dict(args, compute_name=name)
        try:
            request.attach(cmd, dict(merged, resource_group_name=ref.resource_group, cluster_name=ref.cluster_name,
                                     cluster_type=ref.cluster_type))
        except InvalidArgumentValueError as ex:
            problems.append(f'{ref.cluster_name}: ' + ' '.join(str(getattr(ex, 'error_msg', None) or ex).split()))
            continue
        if name.lower() in seen:
            problems.append(f'{ref.cluster_name}: compute name {name} is also that of {seen[name.lower()]}')
            continue
        seen[name.lower()] = ref.cluster_name
        found[ref.resource_id.lower()] = merged
    if problems:
        raise InvalidArgumentValueError('--compute-name: ' + '; '.join(problems) + '. Nothing was sent.',
                                        'Use a pattern that gives each cluster its own valid name (3-24 letters, '
                                        'digits and hyphens), for example --compute-name "{cluster}".')
    return found


def per_cluster(cmd, handler, refs, values, args) -> dict:
    """{cluster id (lower case): its arguments} for the rows of an --ids table, every row checked as the command
    line is (settings rules, TLS files) before anything is sent; all refused rows are named at once."""
    from azure.cli.core.azclierror import AzCLIError, InvalidArgumentValueError
    from azext_amlk8s.inputs import request, selection
    from azext_amlk8s.rules import plan as planner
    name = getattr(handler, '__name__', '')
    if any(v['columns'] for v in values.values()) and name not in ('deploy', 'check', 'update'):
        raise InvalidArgumentValueError(f'--ids: the table has setting columns, which {name} does not take.',
                                        'Give only the id column, or use the table with deploy, check or update.')
    found, problems = {}, []
    if name == 'attach':
        return compute_names(cmd, refs, args)
    for ref in refs:
        row = values.get(ref.resource_id.lower())
        if row is None or not row['columns']:
            continue
        try:
            merged = selection.merged_arguments(args, row['columns'], row['row'])
            raw = dict(merged, resource_group_name=ref.resource_group, cluster_name=ref.cluster_name,
                       cluster_type=ref.cluster_type)
            if name == 'update':
                request.update(cmd, raw)
            else:
                planner.resolve_settings(request.deploy(cmd, raw))
        except AzCLIError as ex:
            said = ' '.join(str(getattr(ex, 'error_msg', None) or ex).split())
            problems.append(f"row {row['row']} ({ref.cluster_name}): {said}")
            continue
        found[ref.resource_id.lower()] = merged
    if problems:
        raise InvalidArgumentValueError(
            f"--ids: {len(problems)} row{'' if len(problems) == 1 else 's'} of the table "
            f"{'is' if len(problems) == 1 else 'are'} refused, so nothing was sent: " + '; '.join(problems),
            'Fix those rows (or leave them out) and run the command again.')
    return found


def forwarded(handler, raw) -> dict:
    """The arguments the per-cluster command takes."""
    import inspect
    params = inspect.signature(handler).parameters
    extras = any(p.kind == p.VAR_KEYWORD for p in params.values())    # the settings arguments (**settings_args)
    return {key: value for key, value in raw.items() if key not in NOT_FORWARDED and (
        key in params or (extras and not (callable(value) or inspect.ismodule(value))))}


def each(cmd, handler, raw, *, confirm, gate, say):
    """The command ``handler`` for each target (one wave, or ``--stages``); ``confirm(refs, args, parallel,
    args_for)`` asks once before anything is sent (``args_for(ref)``: a cluster's own arguments); ``gate(client, ref,
    name)`` verifies a cluster after its stage."""
    from azext_amlk8s.act import fleet, waiting
    from azext_amlk8s.inputs.request import plain
    refs, values = targets(cmd, raw, say)
    args = forwarded(handler, raw)
    rows = per_cluster(cmd, handler, refs, values, args)
    parallel = plain(raw.get('max_parallel'))
    if confirm:
        confirm(refs, args, parallel or fleet.DEFAULT_PARALLEL, lambda ref: rows.get(ref.resource_id.lower(), args))
        for row in rows.values():       # the one answer holds for every cluster, table rows included
            row['yes'] = args.get('yes')

    def job(client, ref):
        return handler(cmd, client, ref.resource_group, ref.cluster_name, ref.cluster_type,
                       **rows.get(ref.resource_id.lower(), args))
    if plain(raw.get('stages')):
        entries, stopped = run(cmd, refs, job, gate=gate, stages=plain(raw.get('stages')),
                               max_failures=plain(raw.get('max_failures')), stage_wait=plain(raw.get('stage_wait')),
                               dry_run=bool(args.get('dry_run')), parallel=parallel, say=say)
        say(summary(entries, stopped))
        error = fleet.failed_error(entries, stopped=stopped, resume=resume_command() if stopped else None)
    else:
        entries = fleet.for_each(cmd, refs, job, parallel=parallel or fleet.DEFAULT_PARALLEL, say=say)
        error = fleet.failed_error(entries)
    if error is not None:
        waiting.fail_after_output(cmd, error)
    return entries
