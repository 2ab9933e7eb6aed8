# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Command handlers. Each walks the same five steps, in this order and one way:

1. request (``request.py``): the arguments become one frozen request value; usage errors stop here;
2. facts (``cluster.py``): one read-only pass over Azure Resource Manager;
3. plan (``plan.py``, ``update.py``, ``settings.py``, ``prereqs.py``, ``health.py``): pure rules give the plan;
4. act (``waiting.py``, ``relay.py``): confirm, ensure the Arc relay, the one write, wait;
5. report (``health.py``, ``_format.py``): the result, or the report with its verdict.

The settings arguments of deploy, check and update are registered from the catalogue (``_params.py``) and reach the
handlers as ``**settings_args``.
"""

# Handlers take every CLI argument by name: unused ones and many locals are expected.
# pylint: disable=unused-argument,too-many-locals

from knack.log import get_logger

from azext_amlk8s.inputs import request as requests
from azext_amlk8s._constants import POLLING_INTERVAL
from azext_amlk8s._text import shell_quote
from azext_amlk8s._transport import as_sdk_model, json_stream

logger = get_logger(__name__)


def _cli_version():
    from azure.cli.core import __version__
    return __version__


def _warn_all(messages):
    for message in messages:
        logger.warning(message)


def _name(target):
    return shell_quote(target.extension_name)


# --- deploy / check ---------------------------------------------------------------------------------------------

def deploy(cmd, client, resource_group_name=None, cluster_name=None, cluster_type=None, *, extension_name='azureml',
           ignore_checks=None, dry_run=False, no_wait=False, kube_config=None, kube_context=None, arm_only=False,
           ids=None, where=None, management_groups=None, subscriptions=None, cluster_types=None, max_parallel=None,
           stages=None, max_failures=None, stage_wait=None, **settings_args):
    from azext_amlk8s.act import live, waiting
    from azext_amlk8s.facts import cluster
    from azext_amlk8s.rules import plan as planner
    if _many(locals()):
        return _each(cmd, deploy, dict(locals(), **settings_args))
    req = requests.deploy(cmd, dict(locals(), **settings_args))
    _warm_up(req)
    ref, name = req.target.ref, req.target.extension_name
    settings = planner.resolve_settings(req)
    facts = cluster.gather_facts(client, ref, cli_version=_cli_version(), versions_train=req.settings.version
                                 .release_train if req.settings.version.version else None)
    plan = planner.plan_deploy(req, settings, facts)
    plan.blocking = _workspace_gate(cmd, client, req, plan, facts.local_accounts_disabled)
    seen = _in_cluster_gate(cmd, client, req, plan, facts)
    if plan.blocking:
        raise planner.blocked_error(ref, plan.blocking, 'cannot take the AzureML extension yet')
    _warn_all(plan.warnings + plan.notes)
    unchanged = planner.already_applied(plan, ref, facts, name) if _in_fleet() and not req.dry_run else None
    if unchanged is not None:
        logger.warning('%s: the extension already has these settings; nothing was sent.', ref.display)
        return 'skipped', as_sdk_model(unchanged)
    body = planner.extension_body(plan, ref, _relay_connection(client, plan, ref, req.dry_run))
    if req.dry_run:
        return _preview(req, plan, body)
    poller = waiting.send_write(ref, name, 'PUT', lambda: client.extensions.begin_create(
        ref.resource_group, ref.cluster_rp, ref.cluster_type, ref.cluster_name, name, json_stream(body),
        content_type='application/json', polling_interval=POLLING_INTERVAL, polling=not no_wait,
        logging_enable=not body['properties']['configurationProtectedSettings']))
    if no_wait:
        logger.warning('The deployment continues in Azure. Follow it with az amlk8s verify %s -n %s --wait',
                       ref.cli_args, _name(req.target))
        return None
    result = waiting.wait_for(cmd, poller, ref, name, 'Deploying', client=client,
                              watch=live.start_for(seen[0], body, ref, name, req.kube))
    _refuse_second_azureml(client, ref, name)
    _report_in_cluster(cmd, client, req, facts, body=body, seen=seen)
    logger.warning('Next: az amlk8s verify %s -n %s, then attach the cluster to a workspace (its subscription, '
                   'the namespace and the extension are checked first) with az amlk8s attach %s --workspace '
                   '<workspace-resource-id> --compute-name <compute-name> --namespace <namespace>',
                   ref.cli_args, _name(req.target), ref.cli_args)
    return result


def _warm_up(req):
    from azext_amlk8s.act import clusterapi
    clusterapi.warm_up(req)


def _in_cluster_gate(cmd, client, req, plan, facts):
    """deploy: the in-cluster checks join the plan (their failures block, their warnings are printed); returns the
    cluster access, kept for the report after the write."""
    from azext_amlk8s.act import clusterapi
    from azext_amlk8s.rules import plan as planner
    rows, seen = clusterapi.before_write(cmd, client, facts, req, plan.settings, public=plan.public)
    planner.add_cluster_rows(plan, rows)
    return seen


def _report_in_cluster(cmd, client, req, facts, *, body, seen):
    """deploy, once Succeeded: what verify would report from inside the cluster, as warnings."""
    from azext_amlk8s.act import waiting
    from azext_amlk8s.act import clusterapi
    ref, name = req.target.ref, req.target.extension_name
    section, findings = clusterapi.after_write(cmd, client, facts, req.kube, body,
                                               ctx=waiting.health_context(ref, name), seen=seen)
    if not section['read']:
        logger.warning('In the cluster: not read (%s).', section['reason'])
        return
    for finding in findings:
        if finding['level'] in ('error', 'warning'):
            logger.warning('In the cluster: %s Fix: %s', finding['diagnosis'], finding['fix'])
    ready = sum(1 for w in section['workloads'] if w['status'] == 'ready')
    router = (section.get('inferenceRouter') or {}).get('address')
    logger.warning('In the cluster: %d of %d components ready%s.', ready, len(section['workloads']),
                   f'; inference router (azureml-fe) at {router}' if router else '')


def _relay_connection(client, plan, ref, dry_run):
    """The Arc relay's connection string, once every check has passed: found or created (with --dry-run only
    described; the body then carries the placeholder)."""
    from azext_amlk8s.act import relay
    if plan.relay is None:
        return None
    if dry_run:
        found = relay.describe(client, plan.relay)
        logger.warning('Azure Relay: would %s namespace %s and hybrid connection %s.',
                       'reuse' if found['hybridConnectionExists'] else 'create', plan.relay.namespace,
                       plan.relay.hybrid_connection)
        return None
    return relay.ensure(client, plan.relay, ref.resource_id, progress=logger.warning)


def _workspace_gate(cmd, client, req, plan, local_accounts_off):
    """deploy --workspace: the workspace checks join the blocking ones; with --create-trusted-access a missing
    binding is created (after confirmation) once nothing else blocks (--export: put in the export)."""
    from azext_amlk8s.act import workspace as ws_rules
    from azext_amlk8s.rules.prereqs import FAIL
    blocking = plan.blocking
    if req.workspace is None:
        return blocking
    ref = req.target.ref
    facts = ws_rules.gather(client, req.workspace, ref, local_accounts_off=local_accounts_off)
    rows = ws_rules.run_checks(facts, ref)
    remaining = ws_rules.blocking_unless_binding(list(blocking) + rows, req.create_trusted_access)
    if remaining or not any(r.id == 'trusted-access' and r.status == FAIL for r in rows):
        return remaining
    if req.dry_run:
        plan.trusted_access = (ws_rules.binding_name(req.workspace, facts.bindings), ws_rules.binding_body(
            req.workspace, ws_rules.ml_binding_for(facts.bindings, req.workspace.resource_id)))
        logger.warning('Would create the Trusted Access binding: %s', ws_rules.trusted_access_command(
            req.workspace, ref, facts.bindings))
    else:
        _create_binding(cmd, client, req, facts.bindings)
    return []


def _create_binding(cmd, client, req, bindings):
    """--create-trusted-access: PUT {cluster}/trustedAccessRoleBindings/{name} (ContainerService REST spec)."""
    from azext_amlk8s.act import waiting, workspace as ws_rules
    from azext_amlk8s._constants import CONTAINER_SERVICE_API
    from azext_amlk8s._transport import arm_send
    ref, ws = req.target.ref, req.workspace
    name = ws_rules.binding_name(ws, bindings)
    body = ws_rules.binding_body(ws, ws_rules.ml_binding_for(bindings, ws.resource_id))
    waiting.confirm(cmd, f"Create Trusted Access binding '{name}' on the {ref.display}, granting "
                         f"{ws_rules.ML_TRUSTED_ACCESS_ROLE} to the {ws.display}? Proceed?", req.yes,
                    'Creating the Trusted Access binding')
    listing = (f'az aks trustedaccess rolebinding show -g {shell_quote(ref.resource_group)} --cluster-name '
               f'{shell_quote(ref.cluster_name)} -n {shell_quote(name)}')
    response = waiting.send_write(ref, None, 'PUT', lambda: arm_send(
        client, 'PUT', f'{ref.resource_id}/trustedAccessRoleBindings/{name}', CONTAINER_SERVICE_API, body,
        allow_404=False), check=[f'Check what Azure has: {listing}', 'Then run the same command again.'])
    waiting.wait_for_arm_operation(cmd, client, response, CONTAINER_SERVICE_API,
                                   what=f"Creating Trusted Access binding '{name}'", follow=[listing])


def _workspace_rows(client, req, local_accounts_off):
    """check --workspace: the workspace checks' rows (none without --workspace)."""
    from azext_amlk8s.act import workspace as ws_rules
    if req.workspace is None:
        return []
    return ws_rules.run_checks(ws_rules.gather(client, req.workspace, req.target.ref,
                                               local_accounts_off=local_accounts_off), req.target.ref)


def _in_cluster_rows(cmd, client, req, settings, *, facts, results):
    """check: the rows of the cluster's Kubernetes API, merged into ARM's."""
    from azext_amlk8s.act import clusterapi
    from azext_amlk8s.rules import incluster
    rows, _ = clusterapi.before_write(cmd, client, facts, req, settings)
    return incluster.merge_rows(results, rows)


def _refuse_second_azureml(client, ref, extension_name):
    """One AzureML extension per cluster: after a deploy, re-read the cluster's extensions and fail when another
    AzureML extension is there too (two deploys with different names at once both succeed in Azure)."""
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s.facts.cluster import azureml_extensions
    others = [e.get('name') for e in azureml_extensions(client, ref)
              if str(e.get('name') or '').lower() != extension_name.lower()]
    if others:
        raise ValidationError(
            f"The AzureML extension '{extension_name}' is deployed, but {ref.display} also has the AzureML extension "
            f"{', '.join(repr(o) for o in others)}: a cluster supports only one, and the two will conflict.",
            f'Keep one and delete the other: az amlk8s delete {ref.cli_args} -n {shell_quote(others[0])} --yes')


def check(cmd, client, resource_group_name=None, cluster_name=None, cluster_type=None, *, extension_name='azureml',
          ignore_checks=None, kube_config=None, kube_context=None, arm_only=False, ids=None, where=None,
          management_groups=None, subscriptions=None, cluster_types=None, max_parallel=None, **settings_args):
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s.act import waiting
    from azext_amlk8s.rules import plan as planner, prereqs
    from azext_amlk8s.facts.cluster import gather_facts
    if _many(locals()):
        return _each(cmd, check, dict(locals(), **settings_args))
    req = requests.check(cmd, dict(locals(), **settings_args))
    _warm_up(req)
    ref = req.target.ref
    rows, settings, warnings = planner.check_settings(req)
    _warn_all(warnings)
    choice = req.settings.version if req.settings is not None else None
    facts = gather_facts(client, ref, cli_version=_cli_version(),
                         versions_train=choice.release_train if choice and choice.version else None)
    results, warnings = planner.check_report(req, rows, settings, facts)
    _warn_all(warnings)
    results = results + _workspace_rows(client, req, facts.local_accounts_disabled)
    results = _in_cluster_rows(cmd, client, req, settings, facts=facts, results=results)
    blocking = prereqs.blocking(results)
    if blocking:
        waiting.fail_after_output(cmd, ValidationError(
            f"{len(blocking)} blocking check{'' if len(blocking) == 1 else 's'} failed for {ref.display}: "
            f'{prereqs.summarize_failures(blocking)}',
            f'Fix the findings above and check again: az amlk8s check {ref.cli_args} <settings>'))
    return [r.to_dict() for r in results]


# --- read-only commands -----------------------------------------------------------------------------------------

def show(cmd, client, resource_group_name=None, cluster_name=None, cluster_type=None, *, extension_name='azureml',
         ids=None, where=None, management_groups=None, subscriptions=None, cluster_types=None, max_parallel=None):
    from azext_amlk8s.facts.cluster import extension_not_found, read_extension
    if _many(locals()):
        return _each(cmd, show, locals())
    target = requests.target(cmd, locals())
    extension = read_extension(client, target.ref, target.extension_name)
    if extension is None:
        raise extension_not_found(client, target.ref, target.extension_name)
    return as_sdk_model(extension)


def wait(cmd, client, resource_group_name, cluster_name, cluster_type, *, extension_name='azureml', created=False,
         updated=False, deleted=False, exists=False, custom=None, interval=5, timeout=3600):
    from azext_amlk8s.act import waiting
    waiting.wait_command(cmd, client, requests.target(cmd, locals()), (created, updated, deleted, exists, custom),
                         interval=requests.plain(interval), timeout=requests.plain(timeout))


def list_extensions(cmd, client, resource_group_name=None, cluster_name=None, cluster_type=None, *,
                    subscriptions=None, where=None, management_groups=None, cluster_types=None, missing=False,
                    drift=None, policy=None):
    from azext_amlk8s._constants import EXTENSIONS_API
    from azext_amlk8s._transport import arm_list
    from azext_amlk8s.facts.cluster import extensions_path, get_cluster, is_azureml
    if not cluster_name:
        return _fleet_list(cmd, client, dict(locals(), resource_group_name=requests.plain(resource_group_name)))
    ref = requests.target(cmd, locals()).ref
    items = arm_list(client, extensions_path(ref), EXTENSIONS_API)
    if items is None:
        get_cluster(client, ref)
        items = []
    return [as_sdk_model(item) for item in items if is_azureml(item)]


def verify(cmd, client, resource_group_name=None, cluster_name=None, cluster_type=None, *, extension_name='azureml',
           wait=False, timeout=None, workspace=None,  # pylint: disable=redefined-outer-name
           kube_config=None, kube_context=None, arm_only=False, ids=None, where=None, management_groups=None,
           subscriptions=None, cluster_types=None, max_parallel=None, collect=None, collect_max_mb=None,
           **live_args):
    from azext_amlk8s.act import waiting
    from azext_amlk8s.act import clusterapi
    from azext_amlk8s.rules import health
    from azext_amlk8s._constants import TERMINAL_STATES
    from azext_amlk8s.facts.cluster import cluster_and_siblings, extension_not_found, read_extension, state_of
    if _many(locals()):
        return _each(cmd, verify, dict(locals(), **live_args))
    req = requests.verify(cmd, dict(locals(), **live_args))
    _warm_up(req)
    ref, name = req.target.ref, req.target.extension_name
    extension, seen = read_extension(client, ref, name), None
    if extension is None:
        raise extension_not_found(client, ref, name)
    if req.wait and state_of(extension) not in TERMINAL_STATES:
        seen, watch = _watch(cmd, client, req, extension)
        extension = waiting.poll_until_terminal(cmd, client, ref, name, extension, timeout=req.timeout or 1800,
                                                watch=watch)
    # the cluster, the other AzureML extensions on it and what runs inside (verify's verdict depends on all three)
    cluster_body, others = cluster_and_siblings(client, ref, name)
    ctx = waiting.health_context(ref, name)
    report = health.build_report(extension, ctx, cluster_body, others, in_cluster=_inside(
        cmd, client, req, cluster_body, extension=extension, ctx=ctx, seen=seen))
    if req.collect:
        clusterapi.collect(cmd, client, req, cluster_body, extension=extension, report=report, many=_in_fleet())
    error = _verify_error(client, req, report)
    if error is not None:
        waiting.fail_after_output(cmd, error)
    return report


def _inside(cmd, client, req, cluster_body, *, extension, ctx, seen=None):
    from azext_amlk8s.act import clusterapi
    from azext_amlk8s.facts.cluster import facts_from_bodies
    return clusterapi.after_write(cmd, client, facts_from_bodies(req.target.ref, cluster_body or {}), req.kube,
                                  extension, ctx=ctx, seen=seen)


def _watch(cmd, client, req, extension):
    """verify --wait: open the cluster (proving it) and watch it while the extension is in progress."""
    from azext_amlk8s.act import live
    from azext_amlk8s.act import clusterapi
    from azext_amlk8s.facts.cluster import gather_facts
    facts = gather_facts(client, req.target.ref, full=False)
    seen = clusterapi.look(cmd, client, facts, req.kube, [])
    return seen, live.start_for(seen[0], extension, facts.ref, req.target.extension_name, req.kube)


def _verify_error(client, req, report):
    """verify's error, or None when healthy. With --workspace the workspace's computes on this cluster and their
    findings join the report first, and a failed compute is an error too."""
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s.act import workspace as ws_rules
    from azext_amlk8s.rules import health
    from azext_amlk8s._constants import TSG_LINK
    failed = [] if health.is_healthy(report) else [health.failure_message(report)]
    if req.workspace is not None:
        report['computes'], found = ws_rules.compute_report(ws_rules.computes_of(client, req.workspace),
                                                            req.workspace, req.target.ref.resource_id)
        report['findings'] = report['findings'] + found
        failed += [f"{f['diagnosis']} Fix: {f['fix']}" for f in found if f['level'] == 'error']
    if not failed:
        return None
    message = ' '.join(failed)
    return ValidationError(message, None if TSG_LINK in message else f'Troubleshooting guide: {TSG_LINK}')


# --- update / delete ---------------------------------------------------------------------------------------------

def update(cmd, client, resource_group_name=None, cluster_name=None, cluster_type=None, *, extension_name=None,
           yes=False, no_wait=False, ids=None, where=None, management_groups=None, subscriptions=None,
           cluster_types=None, max_parallel=None, stages=None, max_failures=None, stage_wait=None, **settings_args):
    if _many(locals()):
        return _each(cmd, update, dict(locals(), **settings_args), confirm=_risky_updates)
    planned = _plan_update(cmd, client, dict(locals(), **settings_args))
    if not isinstance(planned, tuple):
        return planned      # nothing to send: the extension as it is
    req, plan, choice, props = planned
    return _send_update(cmd, client, req, plan=plan, choice=choice, props=props)


def _plan_update(cmd, client, raw, quiet=False):
    """Everything update decides before it writes: (request, plan, version choice, properties), or the extension
    itself when there is nothing to send. ``quiet`` (the --ids risk pass) logs no warning."""
    from azext_amlk8s.facts import cluster
    from azext_amlk8s.rules import settings as rules, update as planner
    say = (lambda *_: None) if quiet else logger.warning
    req = requests.update(cmd, raw)
    ref, name = req.target.ref, req.target.extension_name
    existing = cluster.existing_azureml(client, ref, name, 'update')
    props = existing.get('properties') or {}
    if req.settings.empty:      # as az k8s-extension update with nothing to change (the AKS docs' own command)
        say('No change: no setting, version or release train was given, so nothing was sent. For example: '
            'az amlk8s update %s --enable-inference true <settings>; see az amlk8s update -h.', ref.cli_args)
        return as_sdk_model(existing)
    choice = planner.version_changes(req.settings.version, props)
    planner.refuse_pin_with_auto_upgrade(req.settings, props)
    train = planner.versions_train(req.settings, choice, props)
    facts = cluster.gather_facts(client, ref, full=False, cli_version=_cli_version(), versions_train=train)
    found = rules.check_version_available(rules.VersionChoice(None, req.settings.version_given, train), facts)
    plan = planner.plan_update(props.get('configurationSettings') or {}, req.settings.settings_input, facts,
                               replace_node_selector=req.settings.node_selector_given)
    planner.refuse_blocking(planner.blocking_checks(plan, facts, name), ref)
    if plan.empty and (choice.auto_upgrade, choice.version, choice.release_train) == (None, None, None):
        say('No change: the extension already has these settings.')
        return as_sdk_model(existing)
    if not quiet:
        _warn_all(list(found) + plan.warnings + list(choice.warnings))
    return req, plan, choice, props


def _risky_updates(cmd, refs, args_for, parallel):
    """update --ids asks once, and only when the update disturbs workloads somewhere: the clusters and what changes
    there (``args_for(ref)``: that cluster's arguments, with its row of an --ids table). Clusters whose plan fails
    are left to the update itself, which reports them."""
    from azext_amlk8s.act import fleet

    def impacts(client, ref):
        planned = _plan_update(cmd, client, dict(args_for(ref), resource_group_name=ref.resource_group,
                                                 cluster_name=ref.cluster_name, cluster_type=ref.cluster_type),
                               quiet=True)
        return [description for description, _ in planned[1].impacts] if isinstance(planned, tuple) else []
    entries = fleet.for_each(cmd, refs, impacts, parallel=parallel)
    return [(e['clusterId'], e['result']) for e in entries if e['status'] == fleet.SUCCEEDED and e['result']]


def _send_update(cmd, client, req, *, plan, choice, props):
    """The write half of update: resupply a relay key, confirm, PATCH and follow the operation."""
    from azext_amlk8s.act import relay, waiting
    from azext_amlk8s.rules import update as planner
    ref, name = req.target.ref, req.target.extension_name
    if plan.relay_key_needed:
        relay.resupply_key(client, props.get('configurationSettings') or {}, plan.protected, plan.public)
    if plan.impacts:
        waiting.confirm(cmd, planner.confirmation_message(plan.impacts, name, ref.display), req.yes, 'The update')
    body = planner.patch_body(plan, choice)
    poller = waiting.send_write(ref, name, 'PATCH', lambda: client.extensions.begin_update(
        ref.resource_group, ref.cluster_rp, ref.cluster_type, ref.cluster_name, name, json_stream(body),
        content_type='application/json', polling_interval=POLLING_INTERVAL, polling=not req.no_wait,
        logging_enable=plan.protected is None))
    if req.no_wait:
        logger.warning('The update continues in Azure. Follow it with az amlk8s verify %s -n %s --wait',
                       ref.cli_args, _name(req.target))
        return None
    return waiting.wait_for(cmd, poller, ref, name, 'Updating', client=client)


def delete(cmd, client, resource_group_name=None, cluster_name=None, cluster_type=None, *, extension_name='azureml',
           yes=False, force=False, cleanup=False, no_wait=False, ids=None, where=None, management_groups=None,
           subscriptions=None, cluster_types=None, max_parallel=None):
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s.act import relay, waiting
    if _many(locals()):
        return _each(cmd, delete, locals(), confirm='Delete')
    from azext_amlk8s.facts.cluster import existing_azureml, state_of
    req = requests.delete(cmd, locals())
    ref, name = req.target.ref, req.target.extension_name
    extension = existing_azureml(client, ref, name, 'delete', idle=False)
    if state_of(extension) == 'deleting':
        raise ValidationError(f"The extension '{name}' on {ref.display} is already being deleted.",
                              f'Wait for it: az amlk8s wait {ref.cli_args} -n {_name(req.target)} --deleted')
    settings_now = (extension.get('properties') or {}).get('configurationSettings') or {}
    found = relay.owned_resources(client, settings_now) if settings_now.get(
        'relayserver.hybridConnectionResourceID') else []
    waiting.confirm(cmd, relay.delete_question(name, ref, found, req.force, req.cleanup), req.yes, 'The delete')
    if req.force:
        logger.warning('--force: the extension resource is removed from Azure even if the cluster never uninstalls '
                       'it. Check the cluster afterwards: kubectl get all -n azureml; helm list -n azureml.')
    poller = waiting.send_write(ref, name, 'DELETE', lambda: client.extensions.begin_delete(
        ref.resource_group, ref.cluster_rp, ref.cluster_type, ref.cluster_name, name,
        force_delete=True if req.force else None, polling_interval=POLLING_INTERVAL, polling=not req.no_wait))
    if not req.no_wait:
        waiting.wait_for(cmd, poller, ref, name, 'Deleting', client=client)
    relay.report_after_delete(client, found, req.cleanup, req.no_wait, logger.warning)
    logger.warning('%s. Removing the components from the cluster takes about 10 minutes: kubectl get pods -n azureml '
                   'shows when they are gone (do not deploy again before).',
                   'Delete started' if req.no_wait else 'The extension resource is deleted')
    return None


# --- workspace hand-off -------------------------------------------------------------------------------------------

def attach(cmd, client, resource_group_name=None, cluster_name=None, cluster_type=None, *, workspace, compute_name,
           extension_name='azureml', namespace='default', identity_type='SystemAssigned', user_assigned_identity=None,
           no_wait=False, kube_config=None, kube_context=None, arm_only=False, ids=None, where=None,
           management_groups=None, subscriptions=None, cluster_types=None, max_parallel=None, export=None,
           export_file=None):
    from azext_amlk8s.act import waiting, workspace as ws_rules
    from azext_amlk8s._transport import arm_send
    if _many(locals()):
        return _each(cmd, attach, locals())
    req = requests.attach(cmd, locals())
    ws, name = req.workspace, req.compute_name
    body, existing, workspace_body = ws_rules.planned_attach(client, req)
    state = ws_rules.compare_existing(existing, body)
    if state == 'same':
        logger.warning("No change: compute '%s' of the %s already attaches this cluster (namespace %s); nothing was "
                       'sent. %s', name, ws.display, req.namespace, ws_rules.next_steps(ws, name))
        return existing
    if state not in (None, 'retry'):
        raise ws_rules.refuse_other_target(name, state, ws)
    _namespace_gate(cmd, client, req, ws_rules.refuse_unready(client, req, workspace_body))
    if req.export:
        return ws_rules.exported(req, body)
    see = f'az ml compute show --name {shell_quote(name)} {ws.ml_args}'
    response = waiting.send_write(req.target.ref, None, 'PUT', lambda: arm_send(
        client, 'PUT', ws.compute_id(name), ws_rules.ML_API, body, allow_404=False), check=[
            f'Check what Azure has: {see}', 'Then run the same attach again: it is safe to repeat.'])
    if req.no_wait:
        logger.warning("The attach continues in Azure. Follow it with %s --query provisioningState", see)
        return response.body
    waiting.wait_for_arm_operation(cmd, client, response, ws_rules.ML_API, what=f"Attaching compute '{name}'",
                                   follow=[f'See its state: {see}'])
    response = ws_rules.read_compute(client, ws, name) or response.body
    logger.warning('Compute target: %s', (response or {}).get('id') or ws.compute_id(name))
    logger.warning(ws_rules.next_steps(ws, name))
    return response


def _namespace_gate(cmd, client, req, cluster_body):
    """attach: the namespace the workspace will run in must exist in the cluster (read from its Kubernetes API)."""
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s.act import clusterapi
    from azext_amlk8s.facts.cluster import facts_from_bodies
    ref, namespace = req.target.ref, req.namespace
    exists, access = clusterapi.namespace_exists(cmd, client, facts_from_bodies(ref, cluster_body or {}), req.kube,
                                                 namespace)
    if exists is False:
        raise ValidationError(f"Namespace '{namespace}' does not exist in the {ref.display} (or is being terminated): "
                              'the workspace could not run jobs or endpoints there.',
                              f'Create it: kubectl create namespace {shell_quote(namespace)}, then attach again.')
    if exists is None:
        logger.warning("Could not check that namespace '%s' exists in the cluster (%s); it must exist before jobs "
                       'run: kubectl get namespace %s', namespace, access.reason or access.status,
                       shell_quote(namespace))


def detach(cmd, client, resource_group_name=None, cluster_name=None, cluster_type=None, *, workspace, compute_name,
           yes=False, no_wait=False):
    from azext_amlk8s.act import waiting, workspace as ws_rules
    from azext_amlk8s._transport import arm_send
    req = requests.detach(cmd, locals())
    ws, name = req.workspace, req.compute_name
    existing = ws_rules.read_compute(client, ws, name)
    if existing is None:
        raise ws_rules.compute_not_found(client, ws, name)
    ws_rules.refuse_unless_kubernetes(existing, name, ws)
    if req.ref is not None:
        ws_rules.refuse_unless_on_cluster(existing, name, ws, req.ref)
    elif req.scope is not None:
        ws_rules.refuse_outside_scope(existing, name, ws, req.scope)
    waiting.confirm(cmd, ws_rules.detach_question(existing, name, ws), req.yes, 'The detach')
    see = f'az ml compute show --name {shell_quote(name)} {ws.ml_args}'
    response = waiting.send_write(None, None, 'DELETE', lambda: arm_send(
        client, 'DELETE', ws.compute_id(name), ws_rules.ML_API, params={'underlyingResourceAction': 'Detach'},
        allow_404=False), check=[f'Check what Azure has: {see}', 'Then run the same detach again.'])
    if req.no_wait:
        logger.warning('The detach continues in Azure. Follow it with %s', see)
        return None
    waiting.wait_for_arm_operation(cmd, client, response, ws_rules.ML_API, what=f"Detaching compute '{name}'",
                                   follow=[f'See its state: {see}'])
    logger.warning("Compute '%s' is detached from the %s; the cluster and its AzureML extension are unchanged.",
                   name, ws.display)
    return None


# --- many clusters -------------------------------------------------------------------------------------------------

def _many(args):
    """Whether the command runs for many clusters: --ids, or a Resource Graph selection."""
    selectors = ('ids', 'where', 'management_groups', 'subscriptions', 'cluster_types')
    return any(args.get(key) for key in selectors)


def _each(cmd, handler, raw, confirm=None):
    """--ids or a selection: the same command for each cluster (rollout.each: one wave or --stages), one
    confirmation for the whole list when the command asks for one, every result tagged with its cluster id."""
    from azext_amlk8s.act import rollout

    def gate(client, ref, name):
        return verify(cmd, client, ref.resource_group, ref.cluster_name, ref.cluster_type,
                      extension_name=name or raw.get('extension_name') or 'azureml')
    return rollout.each(cmd, handler, raw, gate=gate, say=logger.warning, confirm=(
        (lambda refs, args, parallel, args_for: _confirm_once(cmd, refs, args, confirm, parallel, args_for=args_for))
        if confirm else None))


def _confirm_once(cmd, refs, args, confirm, parallel, *, args_for=None):
    """One question for the whole --ids list: every cluster for delete; for update (``confirm`` a function) only
    the clusters where it disturbs workloads, with what changes there, and no question when there are none."""
    from azext_amlk8s.act import waiting
    if callable(confirm):
        risky = confirm(cmd, refs, args_for or (lambda ref: args), parallel)
        if not risky:
            return
        what = 'Update'
        listed = '\n'.join(f"  {cluster_id}\n" + '\n'.join(f'    - {line}' for line in lines)
                           for cluster_id, lines in risky)
        question = (f'This update affects active jobs or endpoints on {len(risky)} of the {len(refs)} clusters; '
                    f'they may fail or become unavailable while it applies:\n{listed}\nProceed?')
    else:
        what = confirm
        listed = '\n'.join('  ' + ref.resource_id for ref in refs)
        clusters = 'this cluster' if len(refs) == 1 else f'these {len(refs)} clusters'
        question = f'{confirm} the AzureML extension on {clusters}?\n{listed}\nProceed?'
    waiting.confirm(cmd, question, args.get('yes'), f'The {what.lower()}')
    args['yes'] = True


def _preview(request, plan, body):
    """What deploy gives instead of writing: --dry-run's view of the body, or --export's file (written to
    --export-file, or printed as it is: not JSON-quoted)."""
    ref, name = request.target.ref, request.target.extension_name
    if request.export is None:
        from azext_amlk8s.rules.plan import dry_run_view
        return dry_run_view(body, ref, name)
    from azext_amlk8s.report import export
    text = export.render(request.export, export.Export(body, ref, name, plan.relay, plan.trusted_access))
    if request.export_file:
        with open(request.export_file, 'w', encoding='utf-8') as handle:
            handle.write(text)
        logger.warning('Wrote the %s export of %s to %s; nothing was sent to Azure.', request.export, ref.display,
                       request.export_file)
        return None
    import sys
    sys.stdout.write(text)
    return None


def _in_fleet():
    from azext_amlk8s.act.fleet import collecting
    return collecting() is not None


def _fleet_list(cmd, client, args):
    """list without --cluster-name: every AzureML extension (or, with --missing, every cluster without one) of the
    subscriptions or management groups, from Azure Resource Graph; --where and --cluster-types narrow the clusters."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    from azext_amlk8s.inputs import selection
    if args.get('cluster_type'):
        raise InvalidArgumentValueError('--cluster-type needs --cluster-name (the extensions of one cluster).',
                                        'Drop --cluster-type to list the AzureML extensions of every cluster '
                                        '(--cluster-types aks or arc narrows them).')
    if args.get('missing'):
        return selection.missing(cmd, client, args)
    if args.get('policy'):
        return selection.policy_rows(cmd, client, args, logger.warning)
    rows = selection.extension_rows(cmd, client, args, say=logger.warning if args.get('subscriptions') else None,
                                    settings=args.get('drift') is not None)
    if args.get('drift') is None:
        return rows
    from azext_amlk8s.rules import drift
    drifting, notes = drift.find(rows, drift.parse(args.get('drift')))
    for note in notes:
        logger.warning(note)
    logger.warning('%d of %d AzureML extensions drift.', len(drifting), len(rows))
    return drifting
