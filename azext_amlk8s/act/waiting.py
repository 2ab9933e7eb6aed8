# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 4's second half: send the one write, wait for it, and say plainly what happened.

- ``send_write``: the PUT/PATCH/DELETE; a failure before an operation is known says whether it can have reached
  Azure, how to check and how to retry (never a bare socket error).
- ``wait_for``: the long-running operation with azure-cli's progress; a failure comes back with the service's words
  and verify's diagnosis; a lost connection or Ctrl-C says the operation continues in Azure and how to follow it.
- ``poll_until_terminal`` / ``wait_until``: the polling of ``verify --wait`` and ``az amlk8s wait`` (one loop).
- ``confirm``: the question before a disruptive write (no terminal and no --yes: refuse, nothing sent).
"""

import time

from knack.log import get_logger

from azext_amlk8s._constants import DONE_CHECK_MS, POLLING_INTERVAL, TERMINAL_STATES, TSG_LINK
from azext_amlk8s._text import shell_quote

logger = get_logger(__name__)


def service_message(ex, extension=None):
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
    return f'({code}) {text}' if code else text


def health_context(ref, extension_name):
    from azext_amlk8s.rules import health
    return health.Context(resource_group=ref.resource_group, cluster_name=ref.cluster_name,
                          cluster_type=ref.cluster_type, extension_name=extension_name, cluster_id=ref.resource_id)


def diagnose_failure(ref, extension_name, text, current=None):
    """verify's diagnosis of a failed operation: the error findings of the extension ``current`` (as read after the
    failure), else what the error text matches; then the full report and the troubleshooting guide."""
    from azext_amlk8s.rules import health
    ctx = health_context(ref, extension_name)
    fixes = []
    if isinstance(current, dict):
        try:
            report = health.build_report(current, ctx)
        except Exception:  # pylint: disable=broad-except
            report = {'findings': []}
        fixes.extend(f"{f['diagnosis']}: {f['fix']}" for f in report['findings']
                     if f.get('fix') and f.get('level') == 'error')
    if not fixes:
        fixes.extend(f'{d.diagnosis}: {d.fix}' for d in health.diagnose_text(text, ctx))
    cause = health.innermost_cause(text or '')
    if cause and cause != str(text or '').strip():
        fixes.insert(0, f'Cause: {cause}')
    fixes.append(f'Full report: az amlk8s verify {ref.cli_args} -n {shell_quote(extension_name)}')
    fixes.append(f'Troubleshooting guide: {TSG_LINK}')
    return fixes


def send_write(ref, extension_name, method, send, *, check=None):
    """Send the one write (``send()``); when it fails before an operation is known, say whether it can have reached
    Azure, how to check, and how to retry (``check``: those two sentences for a write that is not the extension's)."""
    from azure.cli.core.azclierror import AzureConnectionError, AzureResponseError
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
    name = shell_quote(extension_name or '')
    check = check or [
        f'Check what Azure has: az amlk8s show {ref.cli_args} -n {name} (or az amlk8s verify {ref.cli_args} -n '
        f'{name})',
        ("Then run the same command again: it re-applies the same "
         f"{('delete' if method == 'DELETE' else 'settings')} and is safe to repeat.")]
    try:
        return send()
    except ServiceRequestError:
        raise AzureConnectionError(f'Could not connect to Azure to send the {method}: the request did not reach '
                                   'Azure, nothing was changed.', check[1:]) from None
    except ServiceResponseError:
        raise AzureConnectionError(f'The connection to Azure broke after the {method} was sent, and retries did not '
                                   'get an answer: the request may have reached Azure.', check) from None
    except HttpResponseError as ex:
        status = getattr(ex, 'status_code', None) or getattr(getattr(ex, 'response', None), 'status_code', None)
        if status == 429 or (status or 0) >= 500:
            reached = 'it was not accepted' if status == 429 else 'it may or may not have been processed'
            raise AzureResponseError(f"Azure answered the {method} with {status} {service_message(ex)} after the "
                                     f"client's retries were spent; {reached}.", check) from None
        raise


_FLAG_FOR = {'Deleting': 'deleted', 'Deploying': 'created', 'Updating': 'updated'}


def wait_for(cmd, poller, ref, extension_name, what, *, client, watch=None):
    """Wait for a long-running operation (``what``: Deploying, Updating, Deleting) with the CLI's progress;
    ``watch`` (live.Watch) reads the cluster meanwhile and prints what it shows."""
    from azure.cli.core.azclierror import AzureConnectionError, AzureResponseError, ManualInterrupt
    from azure.cli.core.commands import LongRunningOperation
    from azure.core.exceptions import AzureError, HttpResponseError
    from azext_amlk8s.act import live
    from azext_amlk8s.facts.cluster import read_extension
    name = shell_quote(extension_name)
    follow = [f'Wait for it: az amlk8s wait {ref.cli_args} -n {name} --{_FLAG_FOR[what]}',
              f'Or see its state and any error: az amlk8s verify {ref.cli_args} -n {name} --wait']
    try:
        # azure-cli checks the poller every 500 ms by default: completion would be noticed up to 0.5 s late.
        return LongRunningOperation(cmd.cli_ctx, start_msg=f'{what} the AzureML extension',
                                    finish_msg=f'{what} the AzureML extension: done',
                                    poller_done_interval_ms=DONE_CHECK_MS)(
                                        poller if watch is None else live.WatchedPoller(poller, watch))
    except live.FailFast as ex:
        raise live.fail_fast_error(ex, follow[1]) from None
    except KeyboardInterrupt:
        raise ManualInterrupt('Stopped waiting. The operation continues in Azure.', follow) from None
    except HttpResponseError as ex:
        if what == 'Deleting':
            raise
        try:
            current = read_extension(client, ref, extension_name)
        except Exception:  # pylint: disable=broad-except
            current = None
        raise AzureResponseError(f'{what} the AzureML extension failed: {service_message(ex, current)}',
                                 diagnose_failure(ref, extension_name, str(ex), current)) from None
    except AzureError as ex:
        # The pipeline's retries are spent (connection refused, reset or timed out): the operation itself was
        # accepted and goes on in Azure, so say so rather than print a bare socket error.
        raise AzureConnectionError(f'Lost the connection to Azure while waiting ({type(ex).__name__}). The operation '
                                   'continues in Azure.', follow) from None
    finally:
        if watch is not None:
            watch.stop()


def wait_for_arm_operation(cmd, client, response, api_version, *, what, follow, timeout=3600):
    """Follow a long-running ARM write that ``arm_send`` started (its ``Azure-AsyncOperation`` status URL) with
    progress, until Succeeded; a Failed or Canceled end is an error with the service's words, a lost connection or
    Ctrl-C says the operation continues in Azure (``follow``: how to see it)."""
    from azure.cli.core.azclierror import AzureConnectionError, AzureResponseError, ManualInterrupt
    from azure.core.exceptions import AzureError
    from azext_amlk8s._transport import arm_get, retry_after_seconds
    url = (response.headers or {}).get('Azure-AsyncOperation')
    if not url:
        return response.body
    pause = retry_after_seconds(response.headers)
    logger.warning('%s...', what)
    try:
        operation, finished = wait_until(
            cmd, lambda: arm_get(client, url, api_version, allow_404=False).body or {},
            lambda op: str(op.get('status') or '').lower() in TERMINAL_STATES, timeout,
            interval=POLLING_INTERVAL if pause is None else max(pause, 0.05))
    except KeyboardInterrupt:
        raise ManualInterrupt('Stopped waiting. The operation continues in Azure.', follow) from None
    except AzureError as ex:
        raise AzureConnectionError(f'Lost the connection to Azure while waiting ({type(ex).__name__}). The operation '
                                   'continues in Azure.', follow) from None
    status = str(operation.get('status') or 'InProgress')
    if not finished or status.lower() != 'succeeded':
        error = operation.get('error') if isinstance(operation.get('error'), dict) else {}
        text = ' '.join(f"({error.get('code')}) {error.get('message') or ''}".split()) if error else ''
        raise AzureResponseError(f"{what} {'did not finish in time' if not finished else 'ended ' + status}"
                                 f"{': ' + text if text else '.'}", follow)
    logger.warning('%s: done', what)
    return operation


def wait_until(cmd, read, done, timeout, *, interval=POLLING_INTERVAL, on_change=None):
    """The one polling loop: ``read()`` the resource until ``done(resource)`` is True (it may raise to stop) or the
    timeout passes; returns (resource, finished). Progress is shown; Ctrl-C raises KeyboardInterrupt to the caller."""
    from azure.cli.core.commands.progress import IndeterminateProgressBar
    progress = IndeterminateProgressBar(cmd.cli_ctx, message='Waiting')
    progress.begin()
    deadline = time.monotonic() + timeout
    resource, first = None, True
    try:
        while True:
            progress.update_progress()
            if not first:
                time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
            first = False
            resource = read()
            if on_change is not None:
                on_change(resource)
            if done(resource):
                return resource, True
            if time.monotonic() >= deadline:
                return resource, False
    finally:
        progress.end()


def poll_until_terminal(cmd, client, ref, extension_name, extension, *, timeout, watch=None):
    """verify --wait: follow the extension until Succeeded, Failed or Canceled, reporting each new state (and, with
    ``watch``, what the cluster shows meanwhile)."""
    from azure.cli.core.azclierror import ManualInterrupt, ResourceNotFoundError
    from azext_amlk8s.act import live
    from azext_amlk8s.facts.cluster import read_extension, state_of
    seen = {'state': state_of(extension)}
    logger.warning('The extension is %s; waiting up to %d s for it to finish.', seen['state'] or 'in an unknown state',
                   timeout)

    def read():
        if watch is not None:
            watch.drain()
        current = read_extension(client, ref, extension_name)
        if current is None:
            raise ResourceNotFoundError(f"The extension '{extension_name}' was deleted while waiting.",
                                        f'Deploy it again with az amlk8s deploy {ref.cli_args} <settings>.')
        return current

    def report(current):
        if state_of(current) != seen['state']:
            seen['state'] = state_of(current)
            logger.warning('provisioningState: %s', (current.get('properties') or {}).get('provisioningState'))
    try:
        current, finished = wait_until(cmd, read, lambda e: state_of(e) in TERMINAL_STATES, timeout,
                                       on_change=report)
    except KeyboardInterrupt:
        raise ManualInterrupt('Stopped waiting; the operation continues in Azure.',
                              f'Run az amlk8s verify {ref.cli_args} -n {shell_quote(extension_name)} --wait again '
                              'later.') from None
    except live.FailFast as ex:
        raise live.fail_fast_error(ex, f'Follow it: az amlk8s verify {ref.cli_args} -n {shell_quote(extension_name)} '
                                       '--wait') from None
    finally:
        if watch is not None:
            watch.stop()
    if not finished:
        logger.warning('Gave up waiting after %d s; the extension is still %s.', timeout, state_of(current))
    return current


def confirm(cmd, message, yes, what):
    """Ask before a disruptive write; without a terminal (and without --yes) refuse, so nothing is sent."""
    from azure.cli.core.azclierror import ManualInterrupt, NoTTYError
    if yes or cmd.cli_ctx.config.getboolean('core', 'disable_confirm_prompt', fallback=False):
        return
    from knack.prompting import NoTTYException, prompt_y_n
    try:
        if not prompt_y_n(message, default='n'):
            raise ManualInterrupt(f'{what} cancelled; nothing was changed.')
    except NoTTYException:
        question = message.strip()
        if question.endswith('Proceed?'):
            question = question[:-len('Proceed?')].rstrip()
        raise NoTTYError(f'{what} needs confirmation, and there is no terminal to ask: nothing was changed.\n'
                         f'{question}', 'Add --yes to confirm in a script.') from None


def fail_after_output(cmd, error):
    """Print the command's result as usual, then exit non-zero with ``error``.

    ``check`` and ``verify`` return their report (so -o, --query and table views work) and still exit non-zero when
    something blocks: the error is raised once the output has been written.
    """
    from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE
    from azext_amlk8s.act.fleet import collecting
    collector = collecting()
    if collector is not None:       # one cluster of --ids: its entry says failed, the command exits non-zero at the end
        collector['error'] = error
        return

    def raise_error(_, **__):
        cmd.cli_ctx.unregister_event(EVENT_CLI_SUCCESSFUL_EXECUTE, raise_error)
        raise error

    cmd.cli_ctx.register_event(EVENT_CLI_SUCCESSFUL_EXECUTE, raise_error)


def wait_command(cmd, client, target, conditions, *, interval, timeout):
    """``az amlk8s wait``: --created/--updated/--deleted/--exists/--custom, with a timeout that fails the command
    (azure-cli's generic wait prints its timeout error and exits 0, so scripts cannot tell it from success)."""
    import jmespath
    from azure.cli.core import azclierror
    from azure.cli.core.util import todict
    from azext_amlk8s._transport import as_sdk_model
    from azext_amlk8s.facts.cluster import read_extension, state_of
    ref, name = target.ref, target.extension_name
    created, updated, deleted, exists, custom = conditions
    if not any(conditions):
        raise azclierror.RequiredArgumentMissingError(
            'Tell az amlk8s wait what to wait for.', 'Add --created, --updated, --deleted, --exists or --custom '
                                                     '<JMESPath>.')
    if interval is None or interval < 1 or timeout is None or timeout < 1:
        raise azclierror.InvalidArgumentValueError(
            '--interval and --timeout must be whole numbers of seconds, at least 1.',
            'For example --interval 5 --timeout 1800.')
    try:
        condition = jmespath.compile(custom) if custom else None
    except jmespath.exceptions.JMESPathError as ex:
        raise azclierror.InvalidArgumentValueError(f'--custom {custom!r} is not a JMESPath expression: {ex}',
                                                   "For example --custom \"provisioningState=='Succeeded'\".") from None

    def done(extension):
        if extension is None:
            return bool(deleted)
        if exists or (condition is not None and condition.search(todict(as_sdk_model(extension)))):
            return True
        if state_of(extension) == 'failed' and not deleted:
            raise azclierror.AzureResponseError(f"The extension '{name}' ended Failed.",
                                                f'See why and how to fix it: az amlk8s verify {ref.cli_args} -n '
                                                f'{shell_quote(name)}')
        return bool(created or updated) and state_of(extension) == 'succeeded'
    try:
        extension, finished = wait_until(cmd, lambda: read_extension(client, ref, name), done, timeout,
                                         interval=interval)
    except KeyboardInterrupt:
        raise azclierror.ManualInterrupt('Stopped waiting; nothing was changed.',
                                         'Run the same wait command again.') from None
    if not finished:
        raise azclierror.ValidationError(
            (f"Timed out after {timeout} s waiting for the extension '{name}' on {ref.display} "
             f"({('it does not exist' if extension is None else 'provisioningState ' + state_of(extension))})."),
            f'Wait longer with --timeout, or see its state with az amlk8s verify {ref.cli_args} -n '
            f'{shell_quote(name)}.')
