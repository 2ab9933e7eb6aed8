# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""`az amlk8s update`: what a PATCH must send, what it disrupts, and what it must not drop (pure).

The resulting configuration is checked with deploy's rules (``settings``); only what changes is sent; derived keys
go along only with the settings they come from; protected settings, which ARM replaces as a whole, are either left
alone or sent complete (the Arc relay key re-read by the handler; TLS material, which cannot be read back, must be
passed again).
"""

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

from azure.cli.core.azclierror import InvalidArgumentValueError, RequiredArgumentMissingError

from azext_amlk8s.rules.settings import (BOOL, CATALOGUE, ENUM, NODE_SELECTOR_PREFIX, Settings, SettingsInput,
                                         VersionChoice, as_bool, check_inference, check_relay, check_workloads, derive,
                                         load_tls, normalise_input, unique)

JOBS = 'training jobs'
ENDPOINTS = 'online endpoints and deployments'

# key -> (what changing it does, impacted workloads, only when it goes true -> false)
IMPACT_RULES = (
    ('enableTraining', 'turns training off', (JOBS,), True),
    ('enableInference', 'turns inference off', (ENDPOINTS,), True),
    ('installNvidiaDevicePlugin', 'removes the NVIDIA device plugin (GPU workloads lose their GPUs)',
     (JOBS, ENDPOINTS), True),
    ('allowInsecureConnections', 'switches the inference endpoint between HTTP and HTTPS', (ENDPOINTS,), False),
    ('inferenceRouterServiceType', 'changes how the inference router is exposed', (ENDPOINTS,), False),
    ('internalLoadBalancerProvider', 'changes the inference router\'s load balancer', (ENDPOINTS,), False),
    ('sslCname', 'changes the HTTPS endpoint\'s name', (ENDPOINTS,), False),
)

# derived key -> the settings it is computed from: sent by an update only when one of those changes, so an update of
# anything else sends only that (an extension created elsewhere may lack the derived keys without harm).
DERIVED_FROM = {
    'scoringFe.serviceType.nodePort': ('enableInference', 'inferenceRouterServiceType'),
    'scoringFe.serviceType.internalLoadBalancer': ('enableInference', 'inferenceRouterServiceType',
                                                   'internalLoadBalancerProvider'),
    'scoringFe.sslSecret': ('enableInference', 'allowInsecureConnections', 'sslSecret'),
    'scoringFe.namespace': ('enableInference', 'isAKSMigration'),
}

# Protected secrets behind a switch that amlk8s cannot read back: (switch, secret).
UNRECOVERABLE = (('azure_log_analytics.enabled', 'azure_log_analytics.connection_string'),
                 ('servicebus.enabled', 'serviceBusConnectionString'))


def comparable(key, value):
    """A value as compared for "did it change": booleans in any case, enum values in any case."""
    if value is None:
        return None
    spec = CATALOGUE.get(key)
    if as_bool(value) is not None and (spec is None or spec.kind == BOOL):
        return as_bool(value)
    if spec is not None and spec.kind == ENUM:
        return str(value).strip().lower()
    return str(value)


def impacts(old: Mapping[str, str], new: Mapping[str, Optional[str]]) -> List[Tuple[str, Tuple[str, ...]]]:
    """The disruptive changes in ``new`` (the keys sent, None = removed) against ``old``: (description, workloads)."""
    def change(key, what):
        before, after = old.get(key), new.get(key)
        return f"{key} {'(not set)' if before is None else before} -> {'(removed)' if after is None else after}: {what}"

    found = []
    endpoints_possible = comparable('enableInference', old.get('enableInference')) is True
    for key, what, workloads, only_true_to_false in IMPACT_RULES:
        if key not in new:
            continue
        if workloads == (ENDPOINTS,) and not endpoints_possible:
            continue    # inference was off: there is no endpoint to disturb (enabling it is not disruptive)
        before, after = comparable(key, old.get(key)), comparable(key, new.get(key))
        if only_true_to_false:
            if before is True and after is not True:
                found.append((change(key, what), workloads))
        elif before != after and not (before is None and after in (False, None) and key == 'allowInsecureConnections'):
            found.append((change(key, what), workloads))
    for key in sorted(k for k in new if k.startswith(NODE_SELECTOR_PREFIX)):
        if comparable(key, old.get(key)) != comparable(key, new.get(key)):
            found.append((change(key, 'moves the extension and ML workloads to other nodes'), (JOBS, ENDPOINTS)))
    return found


def confirmation_message(found, extension_name, cluster_display) -> str:
    workloads = sorted({w for _, ws in found for w in ws})
    lines = [f"This update of the AzureML extension {extension_name!r} on {cluster_display} affects active "
             f"{' and '.join(workloads)}: they may fail or become unavailable while it applies. It is safe when the "
             "cluster runs none."]
    lines.extend(f"  - {description}" for description, _ in found)
    lines.append('Proceed?')
    return '\n'.join(lines)


@dataclass
class UpdatePlan:
    public: Dict[str, Optional[str]]            # the configurationSettings to PATCH (None removes a key)
    protected: Optional[Dict[str, str]]         # the complete new protected set, or None to leave it untouched
    relay_key_needed: bool                      # the Arc relay connection string must be re-read and re-supplied
    impacts: List[Tuple[str, Tuple[str, ...]]]
    warnings: List[str]
    settings: Settings                          # the resulting configuration (for the prerequisite checks)

    @property
    def empty(self) -> bool:
        return not self.public and self.protected is None


def tolerant(old: Mapping[str, str]) -> Dict[str, str]:
    """An existing extension's settings in our normal form, without failing on values we would refuse."""
    out = {}
    for key, value in old.items():
        if value is None:
            continue
        spec = CATALOGUE.get(key)
        text = str(value)
        if spec is not None and spec.kind == BOOL and as_bool(text) is not None:
            text = 'true' if as_bool(text) else 'false'
        elif spec is not None and spec.kind == ENUM:
            text = next((c for c in spec.choices if c.lower() == text.strip().lower()), text)
        out[key] = text
    return out


@dataclass
class _Change:  # pylint: disable=too-many-instance-attributes
    """What the update does to the extension's configuration, before the rules are applied."""
    old: Dict[str, str]
    changes: Dict[str, str]
    protected: Dict[str, str]
    pem: dict
    merged: Dict[str, str]
    removals: set
    old_secret: Optional[str]
    old_pem: bool               # HTTPS from PEM files today (the material sits in the unreadable protected set)
    going_insecure: bool

    @property
    def tls_in_place(self) -> bool:
        """The current PEM material stays in use (the update neither replaces nor turns it off)."""
        return self.old_pem and not self.pem and 'sslSecret' not in self.changes and not self.going_insecure


def _describe_change(old_settings, settings_input) -> Tuple[_Change, List[str]]:
    changes, protected, pem, warnings = normalise_input(settings_input)
    old = tolerant(old_settings or {})
    old_secret = old.get('sslSecret') or old.get('scoringFe.sslSecret')
    old_pem = as_bool(old.get('enableInference')) is True and \
        as_bool(old.get('allowInsecureConnections')) is not True and not old_secret and bool(old.get('sslCname'))
    going_insecure = as_bool(changes.get('allowInsecureConnections')) is True
    stale = ()
    if going_insecure:
        stale = ('sslCname', 'sslSecret', 'scoringFe.sslSecret')     # Microsoft's "disable TLS"
    elif pem and old_secret and 'sslSecret' not in changes:
        stale = ('sslSecret', 'scoringFe.sslSecret')                 # from a Kubernetes secret to PEM files
    removals = {key for key in stale if key in old and key not in changes}
    merged = {k: v for k, v in old.items() if k not in removals}
    merged.update(changes)
    change = _Change(old, changes, protected, pem, merged, removals, old_secret, old_pem, going_insecure)
    return change, warnings


def _check_result(change: _Change, settings_input, warnings, replace_node_selector, now) -> Settings:
    """The resulting configuration, checked with deploy's rules (labels name the existing settings as such)."""
    view = SettingsInput(public=change.merged, protected={}, origin=dict(settings_input.origin))
    for key in change.old:
        view.origin.setdefault(f"public:{key}", f"the existing setting {key}")
    settings = Settings(public=change.merged, protected=dict(change.protected), warnings=warnings)
    before_checks = len(warnings)
    turned_off = [key for key in ('enableTraining', 'enableInference')
                  if key in change.changes and as_bool(change.changes[key]) is False]
    if turned_off and not (settings.training or settings.inference):
        raise RequiredArgumentMissingError(
            f"This update turns {' and '.join(turned_off)} off, and then neither training nor inference is enabled: "
            "the AzureML extension needs at least one.",
            'Keep one of them on (for example add --enable-training true to the same update), or remove the '
            'extension (az amlk8s delete -g <resource-group> -c <cluster> -t <cluster-type> -n <name>).')
    check_workloads(settings, view, True)
    if settings.inference:
        check_inference(settings, view, change.pem, tls_in_place=change.tls_in_place)
    if not change.pem and not any(k in ('enableTraining', 'enableInference') or
                                  (k in CATALOGUE and CATALOGUE[k].inference_only) for k in change.changes):
        del warnings[before_checks:]    # the rules' notes on settings this update leaves alone are noise
    if change.protected.get('relayServerConnectionString') or \
            change.changes.get('relayserver.hybridConnectionResourceID'):
        check_relay(Settings(public=dict(change.changes), protected=dict(change.protected), warnings=[]), view)
    if change.pem and settings.https:
        load_tls(settings, view, change.pem, now)
    if replace_node_selector:
        dropped = sorted(k for k in change.old if k.startswith(NODE_SELECTOR_PREFIX) and k not in change.changes)
        if dropped:
            raise InvalidArgumentValueError(
                f"--node-selector would remove {', '.join(dropped)}: the AzureML extension cannot remove an existing "
                "node selector, only change existing ones or add new ones.",
                'Repeat the existing labels in --node-selector; to remove one, delete the extension and deploy it '
                'again (az amlk8s delete <cluster arguments>, then az amlk8s deploy <cluster arguments> <settings>).')
    return settings


def _public_patch(change: _Change, settings: Settings, derived_public) -> Dict[str, Optional[str]]:
    """The changed keys, the derived keys that follow them, and the removals (None)."""
    newly_inference = settings.inference and as_bool(change.old.get('enableInference')) is not True
    patch: Dict[str, Optional[str]] = {}
    for key, value in derived_public.items():
        related = key in change.changes or any(source in change.changes for source in DERIVED_FROM.get(key, ())) or \
            (newly_inference and key in ('inferenceRouterHA', 'clusterPurpose'))
        if related and comparable(key, change.old.get(key)) != comparable(key, value):
            patch[key] = value
    for key in change.removals:
        patch[key] = None
    return patch


def _transition_warnings(change: _Change, patch) -> List[str]:
    warnings = []
    if change.pem and change.old_secret and 'sslSecret' not in change.changes:
        warnings.append(f'HTTPS now uses the given PEM files instead of the Kubernetes secret {change.old_secret}.')
    if change.tls_in_place and patch.get('sslCname'):
        warnings.append(f"The certificate in use cannot be read back from Azure, so amlk8s cannot check that it covers "
                        f"{patch['sslCname']}; pass --ssl-cert-pem-file and --ssl-key-pem-file to check and send it "
                        "again.")
    if change.going_insecure and change.removals:
        verb = 'is' if len(change.removals) == 1 else 'are'
        warnings.append(f"HTTPS is turned off; {', '.join(sorted(change.removals))} {verb} removed.")
    return warnings


def _protected_set(change: _Change, settings: Settings, derived_protected) -> Tuple[Optional[dict], bool, List[str]]:
    """ARM replaces protected settings as a whole: the complete new set (or None to leave it), whether the relay
    key must be re-read, and a warning. Refuses to silently drop what cannot be read back."""
    tls_dropped = change.old_pem and not change.tls_in_place and not change.pem
    if not derived_protected and not tls_dropped:
        return None, False, []
    protected = dict(derived_protected)
    if change.tls_in_place and settings.https:
        raise RequiredArgumentMissingError(
            'Changing protected settings replaces all of them, and the current TLS certificate and key cannot '
            'be read back from Azure: they would be dropped.',
            'Pass them again in the same command: --ssl-cert-pem-file <cert.pem> --ssl-key-pem-file <key.pem>.')
    for switch, secret in UNRECOVERABLE:
        if as_bool(change.old.get(switch)) is True and secret not in protected:
            raise RequiredArgumentMissingError(
                f'Changing protected settings replaces all of them, and {secret} (used because {switch} is true) '
                'cannot be read back from Azure.',
                f'Pass it again: --config-protected {secret}=<value>.')
    relay_enabled = as_bool(change.merged.get('relayserver.enabled'))
    relay_key_needed = 'relayServerConnectionString' not in protected and (
        relay_enabled is True or (relay_enabled is None and 'relayserver.hybridConnectionResourceID' in change.old))
    resupplied = ' and re-supplies the Azure Relay connection string' if relay_key_needed else ''
    warning = (f"Protected settings are replaced as a whole: amlk8s sends {', '.join(sorted(protected)) or 'none'}"
               f"{resupplied}; any other protected setting set earlier is dropped.")
    return protected, relay_key_needed, [warning]


def plan_update(old_settings: Mapping[str, str], settings_input: SettingsInput, facts, *,
                replace_node_selector: bool = False, now=None) -> UpdatePlan:
    """What a PATCH must send to turn ``old_settings`` (the extension's configurationSettings) into what the user
    asked for, after checking the resulting configuration with the same rules as deploy."""
    change, warnings = _describe_change(old_settings, settings_input)
    settings = _check_result(change, settings_input, warnings, replace_node_selector, now)
    derived_public, derived_protected, notes = derive(settings, facts)
    warnings.extend(notes)
    patch = _public_patch(change, settings, derived_public)
    warnings.extend(_transition_warnings(change, patch))
    protected, relay_key_needed, protected_warnings = _protected_set(change, settings, derived_protected)
    warnings.extend(protected_warnings)
    found = impacts(change.old, {k: v for k, v in patch.items() if k in change.changes or k in change.removals})
    return UpdatePlan(public=patch, protected=protected, relay_key_needed=relay_key_needed, impacts=found,
                      warnings=unique(warnings), settings=settings)


def patch_body(plan: UpdatePlan, version_choice: VersionChoice) -> dict:
    properties = {}
    if version_choice.auto_upgrade is not None:
        properties['autoUpgradeMinorVersion'] = version_choice.auto_upgrade
    if version_choice.release_train is not None:
        properties['releaseTrain'] = version_choice.release_train
    if version_choice.version is not None:
        properties['version'] = version_choice.version
    if plan.public:
        properties['configurationSettings'] = dict(plan.public)
    if plan.protected is not None:
        properties['configurationProtectedSettings'] = dict(plan.protected)
    return {'properties': properties}


# The prerequisite checks whose failure an update must respect (the resulting configuration on this cluster).
UPDATE_CHECKS = ('inference-router-ha', 'internal-load-balancer')


def version_changes(choice: VersionChoice, props) -> VersionChoice:
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
    return VersionChoice(auto, version, train, choice.warnings)


def refuse_pin_with_auto_upgrade(request_settings, props):
    """--version on an extension that auto-upgrades needs --auto-upgrade-minor-version false in the same update."""
    from azure.cli.core.azclierror import MutuallyExclusiveArgumentError
    if request_settings.version_given is not None and request_settings.auto_upgrade is None and \
            props.get('autoUpgradeMinorVersion') is not False:
        raise MutuallyExclusiveArgumentError(
            '--version pins the extension, but auto-upgrade is on for it; the service rejects a version together '
            'with auto-upgrade.', f'Add --auto-upgrade-minor-version false to pin {request_settings.version_given}.')


def versions_train(request_settings, choice: VersionChoice, props) -> Optional[str]:
    """The release train whose versions a pinned --version is checked against (None: no --version given)."""
    if request_settings.version_given is None:
        return None
    return str(choice.release_train or props.get('releaseTrain') or 'stable').lower()


def blocking_checks(plan: UpdatePlan, facts, extension_name):
    """The prerequisite checks the resulting configuration fails on this cluster."""
    from azext_amlk8s.rules import prereqs, settings as rules
    intent = prereqs.Intent(extension_name=extension_name, **rules.intent_fields(plan.settings))
    return [r for r in prereqs.run_checks(facts, intent) if r.id in UPDATE_CHECKS and r.status == prereqs.FAIL]


def refuse_blocking(blocking, ref):
    """Stop the update (nothing sent) when the resulting configuration fails a check on this cluster."""
    from azure.cli.core.azclierror import ValidationError
    from azext_amlk8s.rules.prereqs import summarize_failures
    if blocking:
        raise ValidationError(f'The resulting configuration cannot work on {ref.display}: '
                              f'{summarize_failures(blocking)}', 'Change the settings as the findings say.')
