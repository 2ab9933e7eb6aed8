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

# pylint: disable=unused-argument

from knack.log import get_logger

from azext_amlk8s import request as requests
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

def deploy(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml',
           ignore_checks=None, dry_run=False, no_wait=False, **settings_args):
    from azext_amlk8s import plan as planner, relay, waiting
    from azext_amlk8s.cluster import gather_facts
    req = requests.deploy(cmd, dict(locals(), **settings_args))
    ref, name = req.target.ref, req.target.extension_name
    settings = planner.resolve_settings(req)
    choice = req.settings.version
    facts = gather_facts(client, ref, cli_version=_cli_version(),
                         versions_train=choice.release_train if choice.version else None)
    plan = planner.plan_deploy(req, settings, facts)
    if plan.blocking:
        raise planner.blocked_error(ref, plan.blocking, 'cannot take the AzureML extension yet')
    _warn_all(plan.warnings + plan.notes)
    connection = None
    if plan.relay is not None and dry_run:
        found = relay.describe(client, plan.relay)
        logger.warning('Azure Relay: would %s namespace %s and hybrid connection %s.',
                       'reuse' if found['hybridConnectionExists'] else 'create', plan.relay.namespace,
                       plan.relay.hybrid_connection)
    elif plan.relay is not None:
        connection = relay.ensure(client, plan.relay, ref.resource_id, progress=logger.warning)
    body = planner.extension_body(plan, ref, connection)
    if dry_run:
        return planner.dry_run_view(body, ref, name)
    poller = waiting.send_write(ref, name, 'PUT', lambda: client.extensions.begin_create(
        ref.resource_group, ref.cluster_rp, ref.cluster_type, ref.cluster_name, name, json_stream(body),
        content_type='application/json', polling_interval=POLLING_INTERVAL, polling=not no_wait,
        logging_enable=not body['properties']['configurationProtectedSettings']))
    if no_wait:
        logger.warning('The deployment continues in Azure. Follow it with az amlk8s verify %s -n %s --wait',
                       ref.cli_args, _name(req.target))
        return None
    result = waiting.wait_for(cmd, poller, ref, name, 'Deploying', client)
    _refuse_second_azureml(client, ref, name)
    logger.warning('Next: az amlk8s verify %s -n %s, then attach the cluster to a workspace with az ml compute '
                   'attach --resource-group <workspace-rg> --workspace-name <workspace> --type Kubernetes --name '
                   '<compute-name> --resource-id %s --identity-type SystemAssigned --namespace <namespace>',
                   ref.cli_args, _name(req.target), shell_quote(ref.resource_id))
    return result


def _refuse_second_azureml(client, ref, extension_name):
    """One AzureML extension per cluster: after a deploy, re-read the cluster's extensions and fail when another
    AzureML extension is there too (two deploys with different names at once both succeed in Azure)."""
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s.cluster import azureml_extensions
    others = [e.get('name') for e in azureml_extensions(client, ref)
              if str(e.get('name') or '').lower() != extension_name.lower()]
    if others:
        raise ValidationError(
            f"The AzureML extension '{extension_name}' is deployed, but {ref.display} also has the AzureML extension "
            f"{', '.join(repr(o) for o in others)}: a cluster supports only one, and the two will conflict.",
            f'Keep one and delete the other: az amlk8s delete {ref.cli_args} -n {shell_quote(others[0])} --yes')


def check(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml',
          ignore_checks=None, **settings_args):
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s import plan as planner, prereqs, waiting
    from azext_amlk8s.cluster import gather_facts
    req = requests.check(cmd, dict(locals(), **settings_args))
    ref = req.target.ref
    rows, settings, warnings = planner.check_settings(req)
    _warn_all(warnings)
    choice = req.settings.version if req.settings is not None else None
    facts = gather_facts(client, ref, cli_version=_cli_version(),
                         versions_train=choice.release_train if choice and choice.version else None)
    results, warnings = planner.check_report(req, rows, settings, facts)
    _warn_all(warnings)
    blocking = prereqs.blocking(results)
    if blocking:
        waiting.fail_after_output(cmd, ValidationError(
            f"{len(blocking)} blocking check{'' if len(blocking) == 1 else 's'} failed for {ref.display}: "
            f'{prereqs.summarize_failures(blocking)}',
            f'Fix the findings above and check again: az amlk8s check {ref.cli_args} <settings>'))
    return [r.to_dict() for r in results]


# --- read-only commands -----------------------------------------------------------------------------------------

def show(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml'):
    from azext_amlk8s.cluster import extension_not_found, read_extension
    target = requests.target(cmd, locals())
    extension = read_extension(client, target.ref, target.extension_name)
    if extension is None:
        raise extension_not_found(client, target.ref, target.extension_name)
    return as_sdk_model(extension)


def wait(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml', created=False,
         updated=False, deleted=False, exists=False, custom=None, interval=5, timeout=3600):
    from azext_amlk8s import waiting
    waiting.wait_command(cmd, client, requests.target(cmd, locals()), (created, updated, deleted, exists, custom),
                         requests.plain(interval), requests.plain(timeout))


def list_extensions(cmd, client, resource_group_name, cluster_name, cluster_type):
    from azext_amlk8s._constants import EXTENSIONS_API
    from azext_amlk8s._transport import arm_list
    from azext_amlk8s.cluster import extensions_path, get_cluster, is_azureml
    ref = requests.target(cmd, locals()).ref
    items = arm_list(client, extensions_path(ref), EXTENSIONS_API)
    if items is None:
        get_cluster(client, ref)
        items = []
    return [as_sdk_model(item) for item in items if is_azureml(item)]


def verify(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml',
           wait=False, timeout=None):  # pylint: disable=redefined-outer-name
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s import health, waiting
    from azext_amlk8s._constants import TERMINAL_STATES, TSG_LINK
    from azext_amlk8s.cluster import cluster_and_siblings, extension_not_found, read_extension, state_of
    req = requests.verify(cmd, locals())
    ref, name = req.target.ref, req.target.extension_name
    extension = read_extension(client, ref, name)
    if extension is None:
        raise extension_not_found(client, ref, name)
    if req.wait and state_of(extension) not in TERMINAL_STATES:
        extension = waiting.poll_until_terminal(cmd, client, ref, name, extension, req.timeout or 1800)
    cluster, others = cluster_and_siblings(client, ref, name)
    report = health.build_report(extension, waiting.health_context(ref, name), cluster=cluster, others=others)
    if not health.is_healthy(report):
        waiting.fail_after_output(cmd, ValidationError(health.failure_message(report),
                                                       f'Troubleshooting guide: {TSG_LINK}'))
    return report


# --- update / delete ---------------------------------------------------------------------------------------------

def update(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name=None, yes=False,
           no_wait=False, **settings_args):
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s import prereqs, relay, settings as rules, update as planner, waiting
    from azext_amlk8s.cluster import existing_azureml, gather_facts
    req = requests.update(cmd, dict(locals(), **settings_args))
    ref, name = req.target.ref, req.target.extension_name
    existing = existing_azureml(client, ref, name, 'update')
    props = existing.get('properties') or {}
    if req.settings.empty:      # as az k8s-extension update with nothing to change (the AKS docs' own command)
        logger.warning('No change: no setting, version or release train was given, so nothing was sent. For example: '
                       'az amlk8s update %s --enable-inference true <settings>; see az amlk8s update -h.', ref.cli_args)
        return as_sdk_model(existing)
    choice = planner.version_changes(req.settings.version, props)
    planner.refuse_pin_with_auto_upgrade(req.settings, props)
    train = planner.versions_train(req.settings, choice, props)
    facts = gather_facts(client, ref, full=False, cli_version=_cli_version(), versions_train=train)
    _warn_all(rules.check_version_available(rules.VersionChoice(None, req.settings.version_given, train), facts))
    plan = planner.plan_update(props.get('configurationSettings') or {}, req.settings.settings_input, facts,
                               replace_node_selector=req.settings.node_selector_given)
    blocking = planner.blocking_checks(plan, facts, name)
    if blocking:
        raise ValidationError(f'The resulting configuration cannot work on {ref.display}: '
                              f'{prereqs.summarize_failures(blocking)}', 'Change the settings as the findings say.')
    if plan.empty and (choice.auto_upgrade, choice.version, choice.release_train) == (None, None, None):
        logger.warning('No change: the extension already has these settings.')
        return as_sdk_model(existing)
    _warn_all(plan.warnings + list(choice.warnings))
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
    return waiting.wait_for(cmd, poller, ref, name, 'Updating', client)


def delete(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml', yes=False,
           force=False, cleanup=False, no_wait=False):
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s import relay, waiting
    from azext_amlk8s.cluster import existing_azureml, state_of
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
        waiting.wait_for(cmd, poller, ref, name, 'Deleting', client)
    relay.report_after_delete(client, found, req.cleanup, req.no_wait, logger.warning)
    logger.warning('%s. Removing the components from the cluster takes about 10 minutes: kubectl get pods -n azureml '
                   'shows when they are gone (do not deploy again before).',
                   'Delete started' if req.no_wait else 'The extension resource is deleted')
