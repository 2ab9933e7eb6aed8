# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 3 for deploy and check: (request, facts) -> plan. No request is sent from here.

``resolve_settings`` applies the settings rules before any Azure read (bad input stops there); ``plan_deploy``
adds what needs the cluster's facts: the prerequisite checks, a new extension's name, the pinned version, the keys
derived from the cluster, and whether an Azure Relay must be found or created. ``extension_body`` is the PUT body.
``check_report`` is what ``az amlk8s check`` prints. The update planner is ``update.py``.
"""

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from azext_amlk8s.rules import settings as rules
from azext_amlk8s._constants import EXTENSIONS_API, PROTECTED_PLACEHOLDER


@dataclass
class DeployPlan:  # pylint: disable=too-many-instance-attributes
    settings: object                    # settings.Settings: what the user asked for, checked
    results: list                       # prereqs.CheckResult, every applicable check
    blocking: list                      # the results that stop the write
    warnings: List[str]
    public: Dict[str, str]              # configurationSettings to send
    protected: Dict[str, str]           # configurationProtectedSettings to send (secrets)
    version: object                     # settings.VersionChoice
    relay: Optional[object] = None      # relay_plan.RelayPlan: the Arc relay to find or create before the PUT
    notes: List[str] = field(default_factory=list)
    trusted_access: Optional[tuple] = None  # (name, body) of the binding --create-trusted-access would create


def resolve_settings(request):
    """The settings of a deploy, checked against every documented rule (TLS files read): no Azure read needed."""
    return rules.resolve(request.settings.settings_input)


def _check_new_name(facts, extension_name):
    """A new extension's name must be one the service, Helm and the chart accept (existing ones are left alone)."""
    from azext_amlk8s._validators import validate_extension_name
    existing = {str(e.get('name') or '').lower() for e in facts.extensions or ()}
    if extension_name.lower() not in existing:
        validate_extension_name(extension_name)


def intent_for(settings, extension_name):
    """What the cluster checks (ARM's and the in-cluster ones) need to know of the request."""
    from azext_amlk8s.rules import prereqs
    return prereqs.Intent(extension_name=extension_name, **rules.intent_fields(settings))


def run_checks(facts, settings, extension_name, ignore):
    from azext_amlk8s.rules import prereqs
    return prereqs.run_checks(facts, intent_for(settings, extension_name), ignore or ())


def plan_deploy(request, settings, facts) -> DeployPlan:
    from azext_amlk8s.rules import prereqs
    from azext_amlk8s.rules.relay_plan import plan_for
    name, ref = request.target.extension_name, request.target.ref
    choice = request.settings.version
    _check_new_name(facts, name)
    version_notes = rules.check_version_available(choice, facts)
    results = run_checks(facts, settings, name, request.ignore)
    public, protected, notes = rules.derive(settings, facts)
    warnings = rules.unique(settings.warnings + list(choice.warnings) + version_notes + _row_warnings(results))
    relay_plan = plan_for(ref, facts.location) if rules.needs_relay(public, protected) else None
    return DeployPlan(settings, results, prereqs.blocking(results), warnings, public, protected, choice, relay_plan,
                      notes)


def _row_warnings(results):
    """The lines deploy prints for the rows that do not block but deserve reading."""
    from azext_amlk8s.rules import prereqs
    return [f"{r.title}: {r.finding}{' Fix: ' + r.fix if r.fix else ''}" for r in results
            if r.status in (prereqs.WARNING, prereqs.UNKNOWN, prereqs.IGNORED)]


def add_cluster_rows(plan: DeployPlan, rows):
    """The in-cluster rows join the plan: they replace ARM's rows of the same id (and their warning lines), their
    failures block."""
    from azext_amlk8s.rules import incluster, prereqs
    before = set(_row_warnings(plan.results))
    plan.results = incluster.merge_rows(plan.results, rows)
    plan.warnings = [w for w in plan.warnings if w not in before] + _row_warnings(plan.results)
    plan.blocking = list(plan.blocking) + prereqs.blocking(rows)


def extension_body(plan: DeployPlan, ref, connection=None) -> dict:
    """The PUT body; with the Arc relay's connection string when amlk8s found or created it."""
    public, protected = dict(plan.public), dict(plan.protected)
    if plan.relay is not None:
        rules.with_relay(public, protected, plan.relay.hybrid_connection_id, plan.relay.hybrid_connection,
                         connection or PROTECTED_PLACEHOLDER)
    return rules.extension_body(public, protected, plan.version, 'SystemAssigned' if ref.is_arc else None)


def dry_run_view(body, ref, extension_name) -> dict:
    """What --dry-run prints: the exact resource, protected values replaced by the placeholder."""
    shown = dict(body, properties=dict(body['properties']))
    shown['properties']['configurationProtectedSettings'] = rules.masked(
        body['properties']['configurationProtectedSettings'])
    return dict({'id': ref.extension_id(extension_name), 'name': extension_name,
                 'type': 'Microsoft.KubernetesConfiguration/extensions', 'apiVersion': EXTENSIONS_API}, **shown)


def blocked_error(ref, blocking, what):
    """The error for blocking checks: each finding and fix, and --ignore-check only for those it can skip."""
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s.rules import prereqs
    recommendations = [f'Run az amlk8s check {ref.cli_args} for the full report.']
    ignorable = [r.id for r in blocking if r.ignorable]
    if ignorable and len(ignorable) == len(blocking):
        recommendations.append(f"Proceed anyway (experts only): --ignore-check {' '.join(ignorable)}")
    return ValidationError(f'{ref.display} {what}: {prereqs.summarize_failures(blocking)}', recommendations)


def _settings_row(status, finding, fix=None):
    from azext_amlk8s.rules import prereqs
    return prereqs.CheckResult('settings', 'Settings', status, finding, fix)


def _error_row(ex):
    from azext_amlk8s.rules import prereqs
    return _settings_row(prereqs.FAIL, ex.error_msg, ' '.join(getattr(ex, 'recommendations', None) or []) or None)


def check_settings(request):
    """check's settings row (and the resolved settings) before any Azure read; a usage error becomes a failed row."""
    from azure.cli.core.azclierror import AzCLIError
    from azext_amlk8s.rules import prereqs
    if request.settings_error is not None:
        return [_error_row(request.settings_error)], None, []
    if request.settings is None:
        return [], None, []
    try:
        settings = rules.resolve(request.settings.settings_input)
    except AzCLIError as ex:
        return [_error_row(ex)], None, []
    return ([_settings_row(prereqs.PASS, rules.summary(settings))], settings,
            rules.unique(settings.warnings + list(request.settings.version.warnings)))


def check_report(request, rows, settings, facts):
    """Every row of ``az amlk8s check``: the settings row, the version and name checks, the cluster checks."""
    from azure.cli.core.azclierror import AzCLIError
    warnings = []
    try:
        _check_new_name(facts, request.target.extension_name)
        if request.settings is not None and request.settings.version.version:
            warnings = rules.check_version_available(request.settings.version, facts)
    except AzCLIError as ex:
        rows = rows + [_error_row(ex)]
    return rows + run_checks(facts, settings, request.target.extension_name, request.ignore), warnings


RELAY_KEYS = ('relayServerConnectionString', 'relayserver.relayConnectionString')


def already_applied(plan: DeployPlan, ref, facts, extension_name):
    """The existing extension when a deploy would send exactly what it already has (a re-run of a rollout): Succeeded,
    the same version choice and public settings, and no protected setting but the relay key of the same relay.
    Protected values are never returned by Azure, so anything else protected is re-applied."""
    existing = next((e for e in facts.extensions or () if str(e.get('name') or '').lower() ==
                     extension_name.lower()), None)
    props = (existing or {}).get('properties') or {}
    if not existing or str(props.get('provisioningState') or '').lower() != 'succeeded':
        return None
    body = extension_body(plan, ref)['properties']
    if set(body['configurationProtectedSettings']) - set(RELAY_KEYS):
        return None
    current = props.get('configurationSettings') or {}
    wanted = body['configurationSettings']
    if plan.relay is not None:      # the relay amlk8s would find is the one the extension names
        relay_keys = ('relayserver.hybridConnectionResourceID', 'relayserver.hybridConnectionName')
        wanted = dict(wanted, **{k: current.get(k) for k in relay_keys})
    same_version = (body['autoUpgradeMinorVersion'] == (props.get('autoUpgradeMinorVersion') is not False)
                    and str(body.get('releaseTrain') or '').lower() == str(props.get('releaseTrain') or '').lower()
                    and body.get('version') == (props.get('version') or None))
    return existing if same_version and wanted == current else None
