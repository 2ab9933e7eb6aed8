# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Command handlers: thin glue between parsing, facts, rules, the one write, and the report."""

# pylint: disable=too-many-locals,unused-argument

from knack.log import get_logger

from azext_amlk8s import settings as amlsettings
from azext_amlk8s import update as amlupdate
from azext_amlk8s._constants import POLLING_INTERVAL
from azext_amlk8s._transport import arm_get, arm_list

logger = get_logger(__name__)

EXTENSIONS_API = '2023-05-01'
BUSY_STATES = ('creating', 'updating', 'deleting', 'pending', 'accepted')
TERMINAL_STATES = ('succeeded', 'failed', 'canceled')


# --- shared glue ----------------------------------------------------------------------------------------------------

def _ref(cmd, resource_group_name, cluster_name, cluster_type):
    from azure.cli.core.commands.client_factory import get_subscription_id
    from azext_amlk8s.cluster import ClusterRef, normalize_cluster_type
    return ClusterRef(get_subscription_id(cmd.cli_ctx), resource_group_name, cluster_name,
                      normalize_cluster_type(cluster_type))


def _typed(values):
    """The typed flags that were given, as setting key -> (value as the user meant it, flag)."""
    typed = {}
    for param, key in amlsettings.TYPED_FLAGS:
        value = values.get(param)
        if value is None:
            continue
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        typed[key] = (value, '--' + param.replace('_', '-'))
    return typed


def _settings_input(values):
    from azext_amlk8s._validators import read_settings_file
    config_file = protected_file = None
    if values.get('configuration_settings_file'):
        path = values['configuration_settings_file']
        config_file = (path, read_settings_file(path, '--config-file'))
    if values.get('configuration_protected_settings_file'):
        path = values['configuration_protected_settings_file']
        protected_file = (path, read_settings_file(path, '--config-protected-file'))
    return amlsettings.collect(config=values.get('configuration_settings'),
                               protected=values.get('configuration_protected_settings'),
                               config_file=config_file, protected_file=protected_file,
                               typed=_typed(values), node_selector=values.get('node_selector'))


def _cli_version():
    from azure.cli.core import __version__
    return __version__


def _fail_after_output(cmd, error):
    """Print the command's result as usual, then exit non-zero with ``error``.

    `check` and `verify` return their report (so -o, --query and table views work) and still exit non-zero when
    something blocks: the error is raised once the output has been written.
    """
    from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE

    def raise_error(_, **__):
        cmd.cli_ctx.unregister_event(EVENT_CLI_SUCCESSFUL_EXECUTE, raise_error)
        raise error

    cmd.cli_ctx.register_event(EVENT_CLI_SUCCESSFUL_EXECUTE, raise_error)


def _json_stream(body):
    import io
    import json
    return io.BytesIO(json.dumps(body).encode('utf-8'))


def _wait_for(cmd, poller, ref, extension_name, what, client):
    """Wait for a long-running operation with the CLI's progress; map failures, a lost connection and Ctrl-C to a
    clear message (the service's words, verify's diagnosis, and how to follow an operation that goes on in Azure)."""
    from azure.cli.core.azclierror import AzureConnectionError, AzureResponseError, ManualInterrupt
    from azure.cli.core.commands import LongRunningOperation
    from azure.core.exceptions import AzureError, HttpResponseError
    follow = ['Wait for it: az amlk8s wait {} -n {} --{}'.format(
        ref.cli_args, extension_name, 'deleted' if what == 'Deleting' else 'created' if what == 'Deploying'
        else 'updated'),
        'Or see its state and any error: az amlk8s verify {} -n {} --wait'.format(ref.cli_args, extension_name)]
    try:
        return LongRunningOperation(cmd.cli_ctx, start_msg='{} the AzureML extension'.format(what),
                                    finish_msg='{} the AzureML extension: done'.format(what))(poller)
    except KeyboardInterrupt:
        raise ManualInterrupt('Stopped waiting. The operation continues in Azure.', follow) from None
    except HttpResponseError as ex:
        if what == 'Deleting':
            raise
        try:
            current = _get_extension(client, ref, extension_name)
        except Exception:  # pylint: disable=broad-except
            current = None
        raise AzureResponseError('{} the AzureML extension failed: {}'.format(what, _service_message(ex, current)),
                                 _diagnose_failure(ref, extension_name, str(ex), current)) from None
    except AzureError as ex:
        # The pipeline's retries are spent (connection refused, reset or timed out): the operation itself was
        # accepted and goes on in Azure, so say so rather than print a bare socket error.
        raise AzureConnectionError(
            'Lost the connection to Azure while waiting ({}). The operation continues in Azure.'.format(
                type(ex).__name__), follow) from None


def _service_message(ex, extension=None):
    """The service's error as "(code) message"; when the poller only knows that the operation ended badly (an
    operation followed by the resource's provisioningState), the extension's errorInfo says why."""
    error = getattr(ex, 'error', None)
    code = getattr(error, 'code', None)
    text = getattr(error, 'message', None) or getattr(ex, 'message', None) or str(ex)
    props = (extension or {}).get('properties') if isinstance(extension, dict) else None
    info = props.get('errorInfo') if isinstance(props, dict) else None
    if not code and isinstance(info, dict) and info.get('message') and \
            str(props.get('provisioningState') or '').lower() in ('failed', 'canceled'):
        code, text = info.get('code'), info['message']
    code = ' '.join(str(code).split()) if code else None
    text = ' '.join(str(text).split())
    return '({}) {}'.format(code, text) if code else text


def _diagnose_failure(ref, extension_name, text, current=None):
    """verify's diagnosis of a failed operation: the error findings of the extension ``current`` (as read after the
    failure), else what the error text matches; then the full report and the troubleshooting guide."""
    from azext_amlk8s import health
    ctx = _health_context(ref, extension_name)
    fixes = []
    if isinstance(current, dict):
        try:
            report = health.build_report(current, ctx)
        except Exception:  # pylint: disable=broad-except
            report = {'findings': []}
        fixes.extend('{}: {}'.format(f['diagnosis'], f['fix']) for f in report['findings']
                     if f.get('fix') and f.get('level') == 'error')
    if not fixes:
        fixes.extend('{}: {}'.format(d.diagnosis, d.fix) for d in health.diagnose_text(text, ctx))
    fixes.append('Full report: az amlk8s verify {} -n {}'.format(ref.cli_args, extension_name))
    fixes.append('Troubleshooting guide: {}'.format(amlsettings.TSG_LINK))
    return fixes


def _health_context(ref, extension_name):
    from azext_amlk8s import health
    return health.Context(resource_group=ref.resource_group, cluster_name=ref.cluster_name,
                          cluster_type=ref.cluster_type, extension_name=extension_name, cluster_id=ref.resource_id)


def _get_extension(client, ref, extension_name):
    response = arm_get(client, ref.extension_id(extension_name), EXTENSIONS_API)
    return None if response.status == 404 else response.body


def _extension_not_found(client, ref, extension_name):
    from azure.cli.core.azclierror import ResourceNotFoundError
    from azext_amlk8s.cluster import get_cluster
    get_cluster(client, ref)     # a missing cluster (or group) gets its own message
    return ResourceNotFoundError(
        "The extension '{}' was not found on {}.".format(extension_name, ref.display),
        'List the AzureML extensions of the cluster with az amlk8s list {}.'.format(ref.cli_args))


def _is_azureml(extension):
    props = (extension or {}).get('properties') or {}
    return str(props.get('extensionType') or '').lower() == amlsettings.EXTENSION_TYPE.lower()


def _state(extension):
    return str(((extension or {}).get('properties') or {}).get('provisioningState') or '').lower()


def _warn_all(messages):
    for message in messages:
        logger.warning(message)


def _run_prereqs(facts, settings, extension_name, ignore):
    from azext_amlk8s import prereqs
    intent = prereqs.Intent(extension_name=extension_name, **amlsettings.intent_fields(settings))
    return prereqs.run_checks(facts, intent, ignore or ())


# --- deploy / check ---------------------------------------------------------------------------------------------

def deploy(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml',
           configuration_settings=None, configuration_protected_settings=None, configuration_settings_file=None,
           configuration_protected_settings_file=None, extension_type=None, scope=None, release_namespace=None,
           auto_upgrade_minor_version=None, version=None, release_train=None, enable_training=None,
           enable_inference=None, inference_router_service_type=None, internal_load_balancer_provider=None,
           allow_insecure_connections=None, ssl_cname=None, ssl_secret=None, ssl_cert_pem_file=None,
           ssl_key_pem_file=None, inference_router_ha=None, node_selector=None, install_nvidia_device_plugin=None,
           install_prom_op=None, install_volcano=None, install_dcgm_exporter=None, ignore_checks=None,
           dry_run=False, no_wait=False):
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s import prereqs, relay
    from azext_amlk8s.cluster import gather_facts
    values = dict(locals())
    ref = _ref(cmd, resource_group_name, cluster_name, cluster_type)

    # 1. Parse and decide everything that does not need the cluster: bad input stops before any request.
    amlsettings.check_fixed_arguments(extension_type, scope, release_namespace)
    choice = amlsettings.resolve_version(auto_upgrade_minor_version, version, release_train)
    ignore = prereqs.validate_ignore_ids(ignore_checks or [])
    settings = amlsettings.resolve(_settings_input(values))

    # 2. Facts, 3. checks.
    facts = gather_facts(client, ref, cli_version=_cli_version())
    results = _run_prereqs(facts, settings, extension_name, ignore)
    blocking = prereqs.blocking(results)
    if blocking:
        raise ValidationError(
            '{} cannot take the AzureML extension yet: {}'.format(ref.display, prereqs.summarize_failures(blocking)),
            ['Run az amlk8s check {} for the full report.'.format(ref.cli_args),
             'Proceed anyway (experts only): --ignore-check {}'.format(' '.join(r.id for r in blocking))])
    _warn_all(amlsettings.unique(settings.warnings + list(choice.warnings) + [
        '{}: {}{}'.format(r.title, r.finding, ' Fix: ' + r.fix if r.fix else '') for r in results
        if r.status in (prereqs.WARNING, prereqs.UNKNOWN, prereqs.IGNORED)]))
    public, protected, notes = amlsettings.derive(settings, facts)
    _warn_all(notes)

    # 4. Act: the Arc relay (only once every check has passed), then one PUT.
    if amlsettings.needs_relay(public, protected):
        from azext_amlk8s._client_factory import cf_relay
        plan = relay.plan_for(ref, facts.location)
        relay_client = cf_relay(cmd.cli_ctx, ref.subscription_id)
        if dry_run:
            state = relay.describe(relay_client, plan)
            logger.warning('Azure Relay: would %s namespace %s and hybrid connection %s.',
                           'reuse' if state['hybridConnectionExists'] else 'create', plan.namespace,
                           plan.hybrid_connection)
            connection = amlsettings.PROTECTED_PLACEHOLDER
        else:
            connection = relay.ensure(relay_client, plan, ref.resource_id, progress=logger.warning)
        amlsettings.with_relay(public, protected, plan.hybrid_connection_id, plan.hybrid_connection, connection)

    body = amlsettings.extension_body(public, protected, choice, 'SystemAssigned' if ref.is_arc else None)
    if dry_run:
        body['properties']['configurationProtectedSettings'] = amlsettings.masked(protected)
        return dict({'id': ref.extension_id(extension_name), 'name': extension_name,
                     'type': 'Microsoft.KubernetesConfiguration/extensions', 'apiVersion': EXTENSIONS_API}, **body)

    poller = client.extensions.begin_create(
        ref.resource_group, ref.cluster_rp, ref.cluster_type, ref.cluster_name, extension_name, _json_stream(body),
        content_type='application/json', polling_interval=POLLING_INTERVAL, polling=not no_wait,
        logging_enable=not protected)
    if no_wait:
        logger.warning('The deployment continues in Azure. Follow it with az amlk8s verify %s -n %s --wait',
                       ref.cli_args, extension_name)
        return None
    result = _wait_for(cmd, poller, ref, extension_name, 'Deploying', client)
    logger.warning('Next: az amlk8s verify %s -n %s, then attach the cluster to a workspace with az ml compute '
                   'attach --type Kubernetes --resource-id %s ...', ref.cli_args, extension_name, ref.resource_id)
    return result


def check(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml',
          configuration_settings=None, configuration_protected_settings=None, configuration_settings_file=None,
          configuration_protected_settings_file=None, extension_type=None, scope=None, release_namespace=None,
          auto_upgrade_minor_version=None, version=None, release_train=None, enable_training=None,
          enable_inference=None, inference_router_service_type=None, internal_load_balancer_provider=None,
          allow_insecure_connections=None, ssl_cname=None, ssl_secret=None, ssl_cert_pem_file=None,
          ssl_key_pem_file=None, inference_router_ha=None, node_selector=None, install_nvidia_device_plugin=None,
          install_prom_op=None, install_volcano=None, install_dcgm_exporter=None, ignore_checks=None):
    from azure.cli.core.azclierror import AzCLIError, ValidationError
    from azext_amlk8s import prereqs
    from azext_amlk8s.cluster import gather_facts
    values = dict(locals())
    ref = _ref(cmd, resource_group_name, cluster_name, cluster_type)
    ignore = prereqs.validate_ignore_ids(ignore_checks or [])

    rows = []
    settings = None
    try:
        amlsettings.check_fixed_arguments(extension_type, scope, release_namespace)
        choice = amlsettings.resolve_version(auto_upgrade_minor_version, version, release_train)
        settings_input = _settings_input(values)
        if not settings_input.empty or choice.version:
            settings = amlsettings.resolve(settings_input)
            rows.append(prereqs.CheckResult(
                'settings', 'Settings', prereqs.PASS, amlsettings.summary(settings),
                None))
            _warn_all(amlsettings.unique(settings.warnings + list(choice.warnings)))
    except AzCLIError as ex:
        recommendation = getattr(ex, 'recommendations', None) or []
        rows.append(prereqs.CheckResult('settings', 'Settings', prereqs.FAIL, ex.error_msg,
                                        ' '.join(recommendation) or None))

    facts = gather_facts(client, ref, cli_version=_cli_version())
    results = rows + _run_prereqs(facts, settings, extension_name, ignore)
    report = [r.to_dict() for r in results]
    blocking = prereqs.blocking(results)
    if blocking:
        _fail_after_output(cmd, ValidationError(
            '{} blocking check{} failed for {}: {}'.format(
                len(blocking), '' if len(blocking) == 1 else 's', ref.display, prereqs.summarize_failures(blocking)),
            'Fix the findings above and run az amlk8s check again.'))
    return report


# --- read-only commands -----------------------------------------------------------------------------------------

def _as_sdk_model(extension):
    """The extension as the KubernetesConfiguration SDK returns it, so output matches az k8s-extension (and
    `--query provisioningState` works as scripts written for it expect)."""
    from azure.mgmt.kubernetesconfiguration.v2023_05_01.models import Extension
    return Extension.deserialize(extension)


def show(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml'):
    ref = _ref(cmd, resource_group_name, cluster_name, cluster_type)
    extension = _get_extension(client, ref, extension_name)
    if extension is None:
        raise _extension_not_found(client, ref, extension_name)
    return _as_sdk_model(extension)


def wait(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml', created=False,
         updated=False, deleted=False, exists=False, custom=None, interval=5, timeout=3600):
    """The standard wait (--created/--updated/--deleted/--exists/--custom), with a timeout that fails the command.

    azure-cli's generic wait returns (prints) its timeout error and exits 0; scripts cannot tell a timeout from
    success, so amlk8s has its own.
    """
    import time
    import jmespath
    from azure.cli.core.azclierror import (AzureResponseError, InvalidArgumentValueError, ManualInterrupt,
                                           RequiredArgumentMissingError)
    from azure.cli.core.commands.progress import IndeterminateProgressBar
    from azure.cli.core.util import todict
    ref = _ref(cmd, resource_group_name, cluster_name, cluster_type)
    if not any((created, updated, deleted, exists, custom)):
        raise RequiredArgumentMissingError('Tell az amlk8s wait what to wait for.',
                                           'Add --created, --updated, --deleted, --exists or --custom <JMESPath>.')
    if interval is None or interval < 1 or timeout is None or timeout < 1:
        raise InvalidArgumentValueError('--interval and --timeout must be whole numbers of seconds, at least 1.',
                                        'For example --interval 5 --timeout 1800.')
    try:
        condition = jmespath.compile(custom) if custom else None
    except jmespath.exceptions.JMESPathError as ex:
        raise InvalidArgumentValueError('--custom {!r} is not a JMESPath expression: {}'.format(custom, ex),
                                        "For example --custom \"provisioningState=='Succeeded'\".") from None
    progress = IndeterminateProgressBar(cmd.cli_ctx, message='Waiting')
    progress.begin()
    deadline = time.monotonic() + timeout
    state = None
    try:
        while True:
            progress.update_progress()
            extension = _get_extension(client, ref, extension_name)
            if extension is None:
                if deleted:
                    return None
            else:
                state = _state(extension)
                if exists or (condition is not None and condition.search(todict(_as_sdk_model(extension)))):
                    return None
                if state == 'failed' and not deleted:
                    raise AzureResponseError(
                        "The extension '{}' ended Failed.".format(extension_name),
                        'See why and how to fix it: az amlk8s verify {} -n {}'.format(ref.cli_args, extension_name))
                if (created or updated) and state == 'succeeded':
                    return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(interval, remaining))
    except KeyboardInterrupt:
        raise ManualInterrupt('Stopped waiting; nothing was changed.', 'Run the same az amlk8s wait again.') \
            from None
    finally:
        progress.end()
    from azure.cli.core.azclierror import ValidationError
    raise ValidationError(
        "Timed out after {} s waiting for the extension '{}' on {} ({}).".format(
            timeout, extension_name, ref.display, 'it does not exist' if state is None else 'provisioningState ' +
            state),
        'Wait longer with --timeout, or see its state with az amlk8s verify {} -n {}.'.format(
            ref.cli_args, extension_name))


def list_extensions(cmd, client, resource_group_name, cluster_name, cluster_type):
    from azext_amlk8s.cluster import get_cluster
    ref = _ref(cmd, resource_group_name, cluster_name, cluster_type)
    items = arm_list(client, ref.resource_id + '/providers/Microsoft.KubernetesConfiguration/extensions',
                     EXTENSIONS_API)
    if items is None:
        get_cluster(client, ref)
        items = []
    return [_as_sdk_model(item) for item in items if _is_azureml(item)]


def verify(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml',
           wait=False, timeout=None):  # pylint: disable=redefined-outer-name
    from azure.cli.core.azclierror import InvalidArgumentValueError, ValidationError
    from azext_amlk8s import health
    ref = _ref(cmd, resource_group_name, cluster_name, cluster_type)
    if timeout is not None and not wait:
        raise InvalidArgumentValueError('--timeout applies only with --wait.', 'Add --wait or drop --timeout.')
    if timeout is not None and timeout <= 0:
        raise InvalidArgumentValueError('--timeout must be a positive number of seconds.', 'For example --timeout 600.')
    extension = _get_extension(client, ref, extension_name)
    if extension is None:
        raise _extension_not_found(client, ref, extension_name)
    if wait and _state(extension) not in TERMINAL_STATES:
        extension = _poll_until_terminal(cmd, client, ref, extension_name, extension, timeout or 1800)
    report = health.build_report(extension, _health_context(ref, extension_name))
    if not health.is_healthy(report):
        _fail_after_output(cmd, ValidationError(health.failure_message(report),
                                                'Troubleshooting guide: {}'.format(amlsettings.TSG_LINK)))
    return report


def _poll_until_terminal(cmd, client, ref, extension_name, extension, timeout):
    import time
    from azure.cli.core.azclierror import ManualInterrupt, ResourceNotFoundError
    from azure.cli.core.commands.progress import IndeterminateProgressBar
    progress = IndeterminateProgressBar(cmd.cli_ctx, message='Waiting')
    progress.begin()
    deadline = time.monotonic() + timeout
    state = _state(extension)
    logger.warning('The extension is %s; waiting up to %d s for it to finish.', state or 'in an unknown state', timeout)
    try:
        while state not in TERMINAL_STATES and time.monotonic() < deadline:
            progress.update_progress()
            time.sleep(POLLING_INTERVAL)
            extension = _get_extension(client, ref, extension_name)
            if extension is None:
                raise ResourceNotFoundError("The extension '{}' was deleted while waiting.".format(extension_name),
                                            'Deploy it again with az amlk8s deploy {}.'.format(ref.cli_args))
            new_state = _state(extension)
            if new_state != state:
                logger.warning('provisioningState: %s', ((extension.get('properties') or {}).get('provisioningState')))
                state = new_state
    except KeyboardInterrupt:
        raise ManualInterrupt('Stopped waiting; the operation continues in Azure.',
                              'Run az amlk8s verify {} -n {} --wait again later.'.format(
                                  ref.cli_args, extension_name)) from None
    finally:
        progress.end()
    if state not in TERMINAL_STATES:
        logger.warning('Gave up waiting after %d s; the extension is still %s.', timeout, state)
    return extension


# --- update / delete ---------------------------------------------------------------------------------------------

def _confirm(cmd, message, yes, what):
    """Ask before a disruptive write; without a terminal (and without --yes) refuse, so nothing is sent."""
    from azure.cli.core.azclierror import ManualInterrupt, NoTTYError
    if yes or cmd.cli_ctx.config.getboolean('core', 'disable_confirm_prompt', fallback=False):
        return
    from knack.prompting import NoTTYException, prompt_y_n
    try:
        if not prompt_y_n(message, default='n'):
            raise ManualInterrupt('{} cancelled; nothing was changed.'.format(what))
    except NoTTYException:
        question = message.strip()
        if question.endswith('Proceed?'):
            question = question[:-len('Proceed?')].rstrip()
        raise NoTTYError('{} needs confirmation, and there is no terminal to ask: nothing was changed.\n{}'.format(
            what, question), 'Add --yes to confirm in a script.') from None


def _azureml_extension(client, ref, extension_name, action):
    """The extension, which must exist and be an AzureML one (amlk8s leaves other types to az k8s-extension)."""
    from azure.cli.core.azclierror import InvalidArgumentValueError
    extension = _get_extension(client, ref, extension_name)
    if extension is None:
        raise _extension_not_found(client, ref, extension_name)
    if not _is_azureml(extension):
        raise InvalidArgumentValueError(
            "The extension '{}' on {} is of type {}, not {}.".format(
                extension_name, ref.display, (extension.get('properties') or {}).get('extensionType'),
                amlsettings.EXTENSION_TYPE),
            'amlk8s manages only AzureML extensions: use az k8s-extension {} for it.'.format(action))
    return extension


def _existing_azureml(client, ref, extension_name, action):
    """The AzureML extension, refused while an operation runs on it."""
    from azure.cli.core.azclierror import ValidationError
    extension = _azureml_extension(client, ref, extension_name, action)
    state = _state(extension)
    if state in BUSY_STATES:
        flag = {'creating': 'created', 'deleting': 'deleted'}.get(state, 'updated')
        raise ValidationError(
            "The extension '{}' is {} right now; a new operation would fail with \"operation still in progress\"."
            .format(extension_name, state),
            'Wait for it: az amlk8s wait {} -n {} --{}'.format(ref.cli_args, extension_name, flag))
    return extension


def update(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml',
           configuration_settings=None, configuration_protected_settings=None, configuration_settings_file=None,
           configuration_protected_settings_file=None, extension_type=None, scope=None, release_namespace=None,
           auto_upgrade_minor_version=None, version=None, release_train=None, enable_training=None,
           enable_inference=None, inference_router_service_type=None, internal_load_balancer_provider=None,
           allow_insecure_connections=None, ssl_cname=None, ssl_secret=None, ssl_cert_pem_file=None,
           ssl_key_pem_file=None, inference_router_ha=None, node_selector=None, install_nvidia_device_plugin=None,
           install_prom_op=None, install_volcano=None, install_dcgm_exporter=None, yes=False, no_wait=False):
    from azure.cli.core.azclierror import (MutuallyExclusiveArgumentError, RequiredArgumentMissingError,
                                           ValidationError)
    from azext_amlk8s import prereqs, relay
    from azext_amlk8s.cluster import gather_facts
    values = dict(locals())
    ref = _ref(cmd, resource_group_name, cluster_name, cluster_type)
    amlsettings.check_fixed_arguments(extension_type, scope, release_namespace)
    choice = amlsettings.resolve_version(auto_upgrade_minor_version, version, release_train, default_train=False)
    settings_input = _settings_input(values)
    existing = _existing_azureml(client, ref, extension_name, 'update')
    props = existing.get('properties') or {}
    if settings_input.empty and auto_upgrade_minor_version is None and version is None and release_train is None:
        # As az k8s-extension update with nothing to change (the AKS docs' own update command): a no-op.
        logger.warning('No change: no setting, version or release train was given, so nothing was sent. For example: '
                       'az amlk8s update %s --enable-inference true ...; see az amlk8s update -h.', ref.cli_args)
        return _as_sdk_model(existing)
    choice = _version_changes(choice, props)
    if version is not None and auto_upgrade_minor_version is None and props.get('autoUpgradeMinorVersion') is not False:
        raise MutuallyExclusiveArgumentError(
            '--version pins the extension, but auto-upgrade is on for it; the service rejects a version together '
            'with auto-upgrade.',
            'Add --auto-upgrade-minor-version false to pin {}.'.format(version))

    facts = gather_facts(client, ref, full=False, cli_version=_cli_version())
    plan = amlupdate.plan_update(props.get('configurationSettings') or {}, settings_input, facts,
                                 replace_node_selector=node_selector is not None)
    intent = prereqs.Intent(extension_name=extension_name, **amlsettings.intent_fields(plan.settings))
    blocking = [r for r in prereqs.run_checks(facts, intent)
                if r.id in UPDATE_CHECKS and r.status == prereqs.FAIL]
    if blocking:
        raise ValidationError('The resulting configuration cannot work on {}: {}'.format(
            ref.display, prereqs.summarize_failures(blocking)), 'Change the settings as the findings say.')
    if plan.empty and (choice.auto_upgrade, choice.version, choice.release_train) == (None, None, None):
        logger.warning('No change: the extension already has these settings.')
        return _as_sdk_model(existing)
    _warn_all(plan.warnings + list(choice.warnings))

    if plan.relay_key_needed:
        from azext_amlk8s._client_factory import cf_relay
        settings_now = props.get('configurationSettings') or {}
        relay_plan = relay.parse_hybrid_connection_id(settings_now.get('relayserver.hybridConnectionResourceID', ''))
        connection = relay.read_connection_string(cf_relay(cmd.cli_ctx, relay_plan.subscription_id), relay_plan) \
            if relay_plan else None
        if connection is None:
            raise RequiredArgumentMissingError(
                'Changing protected settings replaces all of them, and the Azure Relay connection string of this '
                'Arc extension could not be read back (the relay named by relayserver.hybridConnectionResourceID '
                'was not found).',
                'Pass it again: --config-protected relayServerConnectionString=<primary connection string of the '
                'azureml_rw rule>.')
        amlsettings.with_relay_key(plan.protected, connection)
        if settings_now.get('relayserver.hybridConnectionName') != relay_plan.hybrid_connection:
            plan.public['relayserver.hybridConnectionName'] = relay_plan.hybrid_connection   # older extensions

    if plan.impacts:
        _confirm(cmd, amlupdate.confirmation_message(plan.impacts, extension_name, ref.display), yes,
                 'The update')
    body = amlupdate.patch_body(plan, choice)
    poller = client.extensions.begin_update(
        ref.resource_group, ref.cluster_rp, ref.cluster_type, ref.cluster_name, extension_name, _json_stream(body),
        content_type='application/json', polling_interval=POLLING_INTERVAL, polling=not no_wait,
        logging_enable=plan.protected is None)
    if no_wait:
        logger.warning('The update continues in Azure. Follow it with az amlk8s verify %s -n %s --wait',
                       ref.cli_args, extension_name)
        return None
    return _wait_for(cmd, poller, ref, extension_name, 'Updating', client)


UPDATE_CHECKS = ('inference-router-ha', 'internal-load-balancer')


def _version_changes(choice, props):
    """The version arguments that differ from what the extension has (the rest need not be sent)."""
    current_auto = props.get('autoUpgradeMinorVersion')
    current_auto = True if current_auto is None else current_auto
    auto = None if choice.auto_upgrade is None or choice.auto_upgrade == current_auto else choice.auto_upgrade
    train = choice.release_train
    if train is not None and train.lower() == str(props.get('releaseTrain') or '').lower():
        train = None
    version = choice.version
    if version is not None and version == props.get('version') and not current_auto:
        version = None
    return amlsettings.VersionChoice(auto, version, train, choice.warnings)


def delete(cmd, client, resource_group_name, cluster_name, cluster_type, extension_name='azureml', yes=False,
           force=False, cleanup=False, no_wait=False):
    from azure.cli.core.azclierror import MutuallyExclusiveArgumentError
    from azext_amlk8s import relay
    ref = _ref(cmd, resource_group_name, cluster_name, cluster_type)
    if cleanup and no_wait:
        raise MutuallyExclusiveArgumentError(
            '--cleanup removes the Azure Relay after the extension is gone, so it cannot be combined with --no-wait.',
            'Drop --no-wait, or run az amlk8s delete ... --cleanup again after az amlk8s wait ... --deleted.')
    extension = _azureml_extension(client, ref, extension_name, 'delete')
    if _state(extension) == 'deleting':
        from azure.cli.core.azclierror import ValidationError
        raise ValidationError("The extension '{}' on {} is already being deleted.".format(extension_name, ref.display),
                              'Wait for it: az amlk8s wait {} -n {} --deleted'.format(ref.cli_args, extension_name))

    settings_now = (extension.get('properties') or {}).get('configurationSettings') or {}
    relay_client = None
    found = []
    if settings_now.get('relayserver.hybridConnectionResourceID'):
        from azext_amlk8s._client_factory import cf_relay
        relay_client = cf_relay(cmd.cli_ctx, ref.subscription_id)
        found = relay.owned_resources(relay_client, settings_now)
    ours = [f for f in found if f.owner == relay.TAG_VALUE and f.kind == 'namespace']

    lines = ["Delete the AzureML extension '{}' from {}? Training jobs and inference endpoints on this cluster stop "
             "working, and compute targets attached to it fail until it is deployed again.".format(
                 extension_name, ref.display)]
    if force:
        lines.append('--force deletes the Azure resource even if the cluster cannot confirm the uninstall; '
                     'components may stay in the cluster.')
    if ours:
        lines.append('The Azure Relay namespace {} (created by amlk8s) is {}.'.format(
            ours[0].resource_id.rsplit('/', 1)[-1], 'deleted too (--cleanup)' if cleanup else 'kept (add --cleanup to '
                                                                                              'delete it)'))
    _confirm(cmd, ' '.join(lines), yes, 'The delete')

    if force:
        logger.warning('--force: the extension resource is removed from Azure even if the cluster never uninstalls '
                       'it. Check the cluster afterwards: kubectl get all -n azureml; helm list -n azureml.')
    poller = client.extensions.begin_delete(ref.resource_group, ref.cluster_rp, ref.cluster_type, ref.cluster_name,
                                            extension_name, force_delete=True if force else None,
                                            polling_interval=POLLING_INTERVAL, polling=not no_wait)
    if not no_wait:
        _wait_for(cmd, poller, ref, extension_name, 'Deleting', client)
    _report_relay(relay_client, found, cleanup, no_wait)
    logger.warning('%s. Removing the components from the cluster takes about 10 minutes: kubectl get pods -n azureml '
                   'shows when they are gone (do not deploy again before).',
                   'Delete started' if no_wait else 'The extension resource is deleted')


def _report_relay(relay_client, found, cleanup, no_wait):
    from azext_amlk8s import relay
    for finding in found:
        if finding.kind != 'namespace':
            continue
        name = finding.resource_id.rsplit('/', 1)[-1]
        group = finding.resource_id.split('/')[4]
        if finding.owner == 'missing':
            continue
        if finding.owner == relay.TAG_VALUE and cleanup:
            relay.delete_namespace(relay_client, group, name, no_wait=no_wait)
            logger.warning('Deleted the Azure Relay namespace %s that amlk8s created for this extension.', name)
        elif finding.owner == relay.TAG_VALUE:
            logger.warning('Kept the Azure Relay namespace %s that amlk8s created for this extension (--cleanup would '
                           'have deleted it). If nothing else uses it: az relay namespace delete -g %s -n %s.',
                           name, group, name)
        else:
            logger.warning('Kept the Azure Relay namespace %s (created by %s, not by amlk8s). If nothing else uses it: '
                           'az relay namespace delete -g %s -n %s.', name,
                           'az k8s-extension' if finding.owner == 'k8s-extension' else 'you', group, name)
