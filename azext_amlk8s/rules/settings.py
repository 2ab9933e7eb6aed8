# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The AzureML extension's configuration settings: catalogue, rules and derived keys.

Everything here is pure (no ARM, no az process). The only I/O is reading the PEM files the user named,
through ``tls.load_tls_material``.

Three steps, used by ``deploy``, ``check`` and ``update``:

1. ``collect`` merges the raw ``--config``/``--config-protected`` values, the two file forms and the typed flags
   into one ``SettingsInput`` (usage errors stop here: duplicates, a typed flag and the same key at once).
2. ``resolve`` applies the catalogue (renamed keys, "did you mean", value types) and every documented rule,
   reads and checks the TLS material, and returns ``Settings``: what the user asked for, normalised.
3. ``derive`` adds what the service expects from the cluster (ids, location, relay/nginx switches, small-cluster
   defaults, ...), giving the public and protected dictionaries that are sent.

Protected values only ever live in ``Settings.protected`` and in the dictionaries ``derive`` returns; ``masked``
replaces them before anything is shown.
"""

import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

from azure.cli.core.azclierror import (InvalidArgumentValueError, MutuallyExclusiveArgumentError,
                                       RequiredArgumentMissingError)

from azext_amlk8s._text import shell_quote
from azext_amlk8s._validators import file_label, looks_like_content, looks_secret, shown_value

# Re-exported: the handlers and the tests read these names from here.
from azext_amlk8s._constants import (  # noqa: F401  pylint: disable=unused-import
    DEFAULT_RELEASE_TRAIN, EXTENSION_TYPE, KNOWN_RELEASE_TRAINS, PROTECTED_PLACEHOLDER, RELEASE_NAMESPACE, SCOPE,
    TSG_LINK)

from azext_amlk8s._catalogue import (  # noqa: F401  pylint: disable=unused-import
    BOOL, CATALOGUE, ENUM, HOSTNAME, IMPLIED_BY_RENAMED, K8S_NAME, NODE_SELECTOR_PREFIX, PATH, REMOVED, RENAMED,
    RESOURCE_ID, SECRET_KEYS, TEXT, TYPED_FLAGS, UNSUPPORTED, Key)

TLS_FILE_KEYS = ('sslCertPemFile', 'sslKeyPemFile')

_TRUE = ('true',)
_FALSE = ('false',)


def as_bool(value) -> Optional[bool]:
    """'True', 'true', True -> True; 'False'... -> False; anything else -> None."""
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


# --- Step 1: collect ----------------------------------------------------------------------------------------------

@dataclass
class SettingsInput:
    """The settings as the user typed them, before any rule: key -> value, and key -> where it came from."""
    public: Dict[str, str] = field(default_factory=dict)
    protected: Dict[str, str] = field(default_factory=dict)
    origin: Dict[str, str] = field(default_factory=dict)     # 'public:key' / 'protected:key' -> argument label
    # The TLS files given with --ssl-cert-pem-file/--ssl-key-pem-file: sslCertPemFile/sslKeyPemFile -> (path or PEM
    # text, flag). Files, not settings: their content is sent (protected), never the path.
    tls_files: Dict[str, Tuple[str, str]] = field(default_factory=dict)

    def label(self, key: str, protected: bool = False) -> str:
        return self.origin.get(('protected:' if protected else 'public:') + key, key)

    @property
    def empty(self) -> bool:
        return not self.public and not self.protected and not self.tls_files


def _add(result: 'SettingsInput', kind: str, key: str, value: str, label: str):
    target, origin = (result.public if kind == 'public' else result.protected), result.origin
    slot = kind + ':' + key
    if key in target and target[key] != value:
        raise MutuallyExclusiveArgumentError(
            f'The setting {key} is given twice with different values, by {origin[slot]} and by {label}.',
            'Give each setting once.')
    target[key] = value
    origin.setdefault(slot, label)


def collect(config=None, protected=None, *, config_file=None, protected_file=None, typed=None,
            node_selector=None) -> SettingsInput:
    """Merge the raw and typed inputs.

    ``config``/``protected`` are dicts from the inline KEY=VALUE options, ``config_file``/``protected_file`` are
    (path, dict) pairs already read, ``typed`` maps setting keys to (value, flag) from the typed flags.
    """
    result = SettingsInput()
    for kind, inline, from_file, option in (('public', config, config_file, '--config'),
                                            ('protected', protected, protected_file, '--config-protected')):
        for key, value in (inline or {}).items():
            _add(result, kind, key, value, f'{option} {key}')
        if from_file:
            # The path may be the file's content (az expands @path): the label names the argument instead.
            path, values = from_file
            where = file_label(path, option + '-file')
            for key, value in values.items():
                _add(result, kind, key, value, f'{key} in {where}')
    for key, (value, flag) in (typed or {}).items():
        for other_kind, other in (('public', result.public), ('protected', result.protected)):
            if key in other:
                raise MutuallyExclusiveArgumentError(
                    f"{flag} and {result.origin[other_kind + ':' + key]} set the same setting {key}.",
                    f'Use either the typed flag {flag} or the KEY=VALUE form, not both.')
        if key in TLS_FILE_KEYS:
            result.tls_files[key] = (value, flag)
        else:
            _add(result, 'public', key, value, flag)
    for label_key, value in (node_selector or {}).items():
        key = NODE_SELECTOR_PREFIX + label_key
        if key in result.public or key in result.protected:
            raise MutuallyExclusiveArgumentError(
                ("--node-selector and "
                 f"{(result.origin.get('public:' + key) or result.origin.get('protected:' + key))} set "
                 f"the same setting {key}."),
                f'Use either --node-selector {label_key}={value} or the KEY=VALUE form, not both.')
        _add(result, 'public', key, value, '--node-selector ' + label_key)
    return result


# --- Step 2: resolve --------------------------------------------------------------------------------------------

@dataclass
class Settings:
    """What the user asked for, normalised and checked against every documented rule."""
    public: Dict[str, str]
    protected: Dict[str, str]
    warnings: List[str]
    tls: Optional[object] = None        # tls.TlsMaterial when PEM files were given
    relay_supplied: bool = False        # the user brought their own Azure Relay

    def get(self, key):
        return self.public.get(key)

    def flag(self, key) -> Optional[bool]:
        return as_bool(self.public.get(key))

    @property
    def training(self) -> bool:
        return bool(self.flag('enableTraining'))

    @property
    def inference(self) -> bool:
        return bool(self.flag('enableInference'))

    @property
    def https(self) -> bool:
        return self.inference and not self.flag('allowInsecureConnections')

    @property
    def node_selector(self) -> Dict[str, str]:
        return {k[len(NODE_SELECTOR_PREFIX):]: v for k, v in self.public.items() if k.startswith(NODE_SELECTOR_PREFIX)}


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein plus adjacent transpositions)."""
    previous2, previous = [], list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if previous2 and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _known_names():
    return tuple(CATALOGUE) + ('nodeSelector',) + tuple(RENAMED) + tuple(UNSUPPORTED)


def suggest(key: str) -> Optional[str]:
    """The documented key a mistyped ``key`` most likely meant, or None when it is not close to any."""
    if key in CATALOGUE or key in RENAMED or key in REMOVED or key in UNSUPPORTED:
        return None
    head = key.split('.', 1)[0] + '.' if '.' in key else None
    best, best_distance = None, None
    for name in _known_names():
        candidate = name
        probe = key
        if name == 'nodeSelector' and head is not None:
            probe = head[:-1]
        if probe.lower() == candidate.lower():
            distance = 0
        else:
            distance = edit_distance(probe.lower(), candidate.lower())
            limit = 1 if len(candidate) < 8 else 2
            if distance > limit:
                continue
        if best_distance is None or distance < best_distance:
            best, best_distance = (name + key[len(probe):] if name == 'nodeSelector' else name), distance
    if best is not None and best == key:
        return None
    if best in RENAMED:
        best = RENAMED[best][0]
    return best


_HOST_LABEL = re.compile(r'^(?!-)[a-z0-9-]{1,63}(?<!-)$')
_K8S_NAME = re.compile(r'^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$')
_LABEL_NAME = re.compile(r'^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$')
_LABEL_VALUE = re.compile(r'^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$')
_HC_ID = re.compile(r'^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Relay/namespaces/[^/]+'
                    r'/hybridConnections/[^/]+$', re.IGNORECASE)
_VERSION = re.compile(r'^\d+\.\d+\.\d+$')


def _bad_value(label, value, expected, recommendation):
    # shown_value: a value given as KEY=@file is the file's content, never quoted.
    return InvalidArgumentValueError(f'Setting {label} has {_value_phrase(value)}, but it must be {expected}.',
                                     recommendation)


def _value_phrase(value) -> str:
    shown = shown_value(value)
    return ('the value ' + shown) if shown.startswith(("'", '"')) else shown


def _plain(value) -> bool:
    """True when a value can be printed as it is: not read from a file (KEY=@file), not secret-looking."""
    text = str(value)
    return not (looks_like_content(text) or '-----BEGIN' in text or looks_secret(text))


def _check_label_key(label, key):
    prefix, _, name = key.rpartition('/')
    if not _LABEL_NAME.match(name or '') or (prefix and not all(_HOST_LABEL.match(p) for p in prefix.split('.'))):
        raise InvalidArgumentValueError(
            f'Setting {label} uses {key!r}, which is not a valid Kubernetes label key.',
            'A label key is an optional DNS prefix and a name of up to 63 letters, digits, "-", "_" or ".", '
            'for example nodeSelector.agentpool=gpupool or --node-selector kubernetes.io/os=linux.')


def _normalise_value(key: Key, label: str, value: str) -> str:
    if key.kind == BOOL:
        parsed = as_bool(value)
        if parsed is None:
            raise _bad_value(label, value, 'true or false', f'Use {key.name}=true or {key.name}=false (any case).')
        return 'true' if parsed else 'false'
    if key.kind == ENUM:
        for choice in key.choices:
            if str(value).strip().lower() == choice.lower():
                return choice
        raise _bad_value(label, value, 'one of ' + ', '.join(key.choices),
                         f"Set {key.name} to one of: {', '.join(key.choices)} (any case).")
    text = str(value).strip()
    if not text:
        raise InvalidArgumentValueError(f'Setting {label} is empty.', f'Give {key.name} a value or leave it out.')
    if key.kind == HOSTNAME:
        from azext_amlk8s.rules.tls import validate_cname
        return validate_cname(text, label)
    if key.kind == K8S_NAME and not _K8S_NAME.match(text):
        raise _bad_value(label, text, 'a Kubernetes resource name', 'Use lower-case letters, digits, "-" and ".", '
                         'starting and ending with a letter or digit, as shown by kubectl get secrets -n azureml.')
    if key.kind == RESOURCE_ID and not _HC_ID.match(text):
        raise _bad_value(label, text, 'the resource id of an Azure Relay hybrid connection',
                         'Use /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Relay/namespaces/<ns>'
                         '/hybridConnections/<hc>, as shown by az relay hyco show --query id.')
    return text


def _validate_relay_connection_string(label: str, value: str):
    parts = {}
    for piece in value.split(';'):
        name, sep, val = piece.partition('=')
        if sep:
            parts[name.strip().lower()] = val.strip()
    missing = [n for n in ('endpoint', 'sharedaccesskeyname', 'sharedaccesskey', 'entitypath') if not parts.get(n)]
    glued = 'entitypath' in parts.get('sharedaccesskey', '').lower()
    if missing or glued or not parts.get('endpoint', '').startswith('sb://'):
        missing_semicolon = '; a ";" is missing before EntityPath' if glued else ''
        raise InvalidArgumentValueError(
            f'Setting {label} is not an Azure Relay connection string (Endpoint=sb://...;SharedAccessKeyName=...;'
            f'SharedAccessKey=...;EntityPath=...){missing_semicolon}.',
            'Copy the primary connection string of the hybrid connection\'s azureml_rw rule: az relay hyco '
            'authorization-rule keys list -g <rg> --namespace-name <ns> --hybrid-connection-name <hc> -n azureml_rw '
            '--query primaryConnectionString -o tsv')


def _apply_renames(values: Dict[str, str], settings_input: SettingsInput, protected: bool, warnings: List[str]):
    for old in list(values):
        label = settings_input.label(old, protected)
        if old in REMOVED:
            del values[old]
            warnings.append(f'Setting {label} is no longer used by the AzureML extension and was left out.')
        elif old in UNSUPPORTED:
            raise InvalidArgumentValueError(f'Setting {label} is not supported.', UNSUPPORTED[old])
        elif old in RENAMED:
            new, translate, why = RENAMED[old]
            value = values.pop(old)
            if translate is not None:
                mapped = translate.get(str(value).strip().lower())
                if mapped is None:
                    given = f'{old}={value}' if _plain(value) else f'{old} with {shown_value(value)}'
                    warnings.append(f'Setting {label} ({why}) was left out: {given} has no effect.')
                    continue
                value = mapped
            if new in values:
                raise MutuallyExclusiveArgumentError(
                    f'Setting {label} and {settings_input.label(new, protected)} both set {new} ({old} is the old '
                    f'name, {why}).',
                    f'Remove {old} and keep {new}.')
            values[new] = value
            settings_input.origin.setdefault(('protected:' if protected else 'public:') + new, label)
            shown = value if new not in SECRET_KEYS and _plain(value) else PROTECTED_PLACEHOLDER
            sent = [f'{new}={shown}']
            for implied, implied_value in IMPLIED_BY_RENAMED.get(old, {}).items():
                if implied not in values:
                    values[implied] = implied_value
                    settings_input.origin.setdefault(('protected:' if protected else 'public:') + implied, label)
                    sent.append(f'{implied}={implied_value}')
            warnings.append(f"Setting {label} is an old name ({why}); it was sent as {' '.join(sent)}.")


def _check_keys(values: Dict[str, str], settings_input: SettingsInput, protected: bool):
    for key, value in values.items():
        label = settings_input.label(key, protected)
        guess = suggest(key)
        if guess is not None:
            raise InvalidArgumentValueError(
                f'Setting {label} is not a setting of the AzureML extension.',
                f'Did you mean {guess}? Setting names are case-sensitive; see az amlk8s deploy -h for the list.')
        if key == 'nodeSelector':
            raise InvalidArgumentValueError(
                f'Setting {label} needs a label key: nodeSelector.<label>=<value>.',
                'Use --node-selector <label>=<value> or --config nodeSelector.<label>=<value>.')
        if key.startswith(NODE_SELECTOR_PREFIX):
            _check_label_key(label, key[len(NODE_SELECTOR_PREFIX):])
            if not _LABEL_VALUE.match(str(value)):
                raise _bad_value(label, value, 'a Kubernetes label value',
                                 'Label values have up to 63 letters, digits, "-", "_" or "."')
        if not key or any(c.isspace() for c in key):
            raise InvalidArgumentValueError(f'The setting name {key!r} is not valid.',
                                            'Setting names have no spaces, for example enableTraining=true.')


def normalise_input(settings_input: SettingsInput):
    """Renames, "did you mean", secrets in the wrong place, value types. Returns (public, protected, pem, warnings);
    ``pem`` maps sslCertPemFile/sslKeyPemFile to (path, argument label): paths are never sent."""
    warnings: List[str] = []
    public = dict(settings_input.public)
    protected = dict(settings_input.protected)
    _apply_renames(public, settings_input, False, warnings)
    _apply_renames(protected, settings_input, True, warnings)
    _check_keys(public, settings_input, False)
    _check_keys(protected, settings_input, True)

    alias = 'relayserver.relayConnectionString'
    if alias in protected:
        given = protected.pop(alias)
        if protected.setdefault('relayServerConnectionString', given) != given:
            raise MutuallyExclusiveArgumentError(
                (f"Settings {settings_input.label(alias, True)} and "
                 f"{settings_input.label('relayServerConnectionString', True)} give different relay "
                 "connection strings."),
                'Give the connection string once, as relayServerConnectionString.')
        settings_input.origin.setdefault('protected:relayServerConnectionString', settings_input.label(alias, True))

    both = sorted(set(public) & set(protected))
    if both:
        raise MutuallyExclusiveArgumentError(
            f"These settings are given both as settings and as protected settings: {', '.join(both)}.",
            'Give each key once: protected settings are for secrets only.')

    for key in list(public):
        if key in SECRET_KEYS:
            raise InvalidArgumentValueError(
                (f'Setting {settings_input.label(key)} holds a secret but was given as a public '
                 'setting; public settings are visible to anyone who can read the extension.'),
                f'Pass it with --config-protected {key}=<value> (or --config-protected-file).')
    for key in list(protected):
        spec = CATALOGUE.get(key)
        if spec is not None and spec.protected is False:
            # Not a secret: protected settings are not readable back, so keep it visible and comparable.
            public[key] = protected.pop(key)
            settings_input.origin.setdefault('public:' + key, settings_input.label(key, True))

    for values, is_protected in ((public, False), (protected, True)):
        for key, value in list(values.items()):
            spec = CATALOGUE.get(key)
            if spec is not None and spec.kind != PATH and key not in SECRET_KEYS:
                values[key] = _normalise_value(spec, settings_input.label(key, is_protected), value)

    # PEM paths are not secrets: accept them in either form, keep them out of what is sent.
    pem = dict(settings_input.tls_files)
    for key in TLS_FILE_KEYS:
        for values, is_protected in ((protected, True), (public, False)):
            if key in values:
                if key in pem:
                    raise MutuallyExclusiveArgumentError(
                        f'{pem[key][1]} and {settings_input.label(key, is_protected)} both give {key}.',
                        f'Use either {pem[key][1]} or the KEY=VALUE form, not both.')
                pem[key] = (values.pop(key), settings_input.label(key, is_protected))
    return public, protected, pem, warnings


def load_tls(settings: Settings, settings_input: SettingsInput, pem, now):
    from azext_amlk8s.rules.tls import load_tls_material
    (cert_path, cert_label), (key_path, key_label) = pem['sslCertPemFile'], pem['sslKeyPemFile']
    settings.tls = load_tls_material(cert_path, key_path, settings.public.get('sslCname'), now=now,
                                     cert_arg=cert_label, key_arg=key_label,
                                     cname_arg=settings_input.label('sslCname'))
    settings.warnings.extend(settings.tls.warnings)


def resolve(settings_input: SettingsInput, *, require_workload: bool = True, read_tls: bool = True,
            now=None) -> Settings:
    """Apply the catalogue and every documented rule to what the user typed."""
    public, protected, pem, warnings = normalise_input(settings_input)
    settings = Settings(public=public, protected=protected, warnings=warnings)
    check_workloads(settings, settings_input, require_workload)
    check_inference(settings, settings_input, pem)
    check_relay(settings, settings_input)
    if settings.inference and settings.https and pem and read_tls:
        load_tls(settings, settings_input, pem, now)
    elif pem and not settings.https:
        warnings.append((f"The PEM files ({', '.join(label for _, label in pem.values())}) were left "
                         "out: "
                         f"{'inference is not enabled' if not settings.inference else 'allowInsecureConnections is '}"
                         f"{'' if not settings.inference else 'true'}."))
    return settings


def check_workloads(settings: Settings, settings_input: SettingsInput, require_workload: bool):
    if require_workload and not (settings.training or settings.inference):
        for_inference = [settings_input.label(k) for k in settings.public
                         if k in CATALOGUE and CATALOGUE[k].inference_only]
        if for_inference:
            # The secure-endpoint doc's sslSecret command omits enableInference=True: say what is missing.
            raise RequiredArgumentMissingError(
                (f"Neither training nor inference is enabled, but {', '.join(for_inference)} "
                 f"configure{('s' if len(for_inference) == 1 else '')} inference, and enableInference "
                 f"is {('false' if settings.flag('enableInference') is False else 'not set')}."),
                'Add enableInference=True to --config (or --enable-inference true); add enableTraining=True as well '
                'for training and batch inference.')
        raise RequiredArgumentMissingError(
            'Neither training nor inference is enabled: the AzureML extension needs at least one.',
            'Add --enable-training true, --enable-inference true, or both (or --config enableTraining=true '
            'enableInference=true).')
    if not settings.inference:
        ignored = [settings_input.label(k) for k in settings.public
                   if k in CATALOGUE and CATALOGUE[k].inference_only and k not in ('sslCertPemFile', 'sslKeyPemFile')]
        if ignored and require_workload:
            settings.warnings.append((f"Setting {', '.join(ignored)} only "
                                      f"appl{('ies' if len(ignored) == 1 else 'y')} to inference, "
                                      "which is not enabled."))


def check_inference(settings: Settings, settings_input: SettingsInput, pem, tls_in_place: bool = False):
    """The inference and HTTPS rules. ``pem``: the TLS files given; ``tls_in_place``: an update keeps the PEM material
    already in the extension (which Azure never returns), so it counts as given."""
    if not settings.inference:
        return
    public = settings.public
    label = settings_input.label
    service_type = public.get('inferenceRouterServiceType')
    if service_type is None:
        raise RequiredArgumentMissingError(
            'Inference needs the inference router service type.',
            'Add --inference-router-service-type LoadBalancer, NodePort or ClusterIP (or --config '
            'inferenceRouterServiceType=...). Most on-premises clusters cannot provision a LoadBalancer: use NodePort '
            'or ClusterIP there; on AKS with only internal load balancers also add '
            '--internal-load-balancer-provider azure.')
    if public.get('internalLoadBalancerProvider') and service_type != 'LoadBalancer':
        raise MutuallyExclusiveArgumentError(
            (f"Setting {label('internalLoadBalancerProvider')} applies only to the LoadBalancer router "
             f"service type, but {label('inferenceRouterServiceType')} is {service_type}."),
            'Remove internalLoadBalancerProvider, or use inferenceRouterServiceType=LoadBalancer.')
    insecure = settings.flag('allowInsecureConnections')
    secret = public.get('sslSecret')
    have_cert, have_key = 'sslCertPemFile' in pem or tls_in_place, 'sslKeyPemFile' in pem or tls_in_place
    if insecure:
        given = [label(k) for k in ('sslSecret', 'sslCname') if k in public] + [v[1] for v in pem.values()]
        if given:
            raise MutuallyExclusiveArgumentError(
                (f"Setting {label('allowInsecureConnections')} turns HTTPS off, but {', '.join(given)} "
                 f"configure{('s' if len(given) == 1 else '')} HTTPS."),
                'For an HTTPS endpoint drop allowInsecureConnections (or set it to false); for HTTP drop the TLS '
                'settings.')
        settings.warnings.append('HTTPS is off (allowInsecureConnections=true): inference endpoints accept plain '
                                 'HTTP. Use this for development and test only.')
        return
    if have_cert != have_key:
        present, absent = ('sslCertPemFile', 'sslKeyPemFile') if have_cert else ('sslKeyPemFile', 'sslCertPemFile')
        raise RequiredArgumentMissingError(
            f'Setting {pem[present][1]} is given without {absent}: HTTPS from PEM files needs both.',
            (f"Add --ssl-{('key' if absent == 'sslKeyPemFile' else 'cert')}-pem-file <path> (or "
             f"--config-protected {absent}=<path>)."))
    if secret and have_cert:
        raise MutuallyExclusiveArgumentError(
            (f"Both {label('sslSecret')} and the PEM files ({pem['sslCertPemFile'][1]}, "
             f"{pem['sslKeyPemFile'][1]}) are given; configure HTTPS one way only."),
            'Keep the PEM files, or keep sslSecret (a Kubernetes secret in namespace azureml holding cert.pem and '
            'key.pem), not both.')
    if not secret and not have_cert:
        raise RequiredArgumentMissingError(
            'Inference serves HTTPS by default, and no TLS certificate is configured.',
            'Add --ssl-cname <fqdn> with --ssl-cert-pem-file <cert.pem> --ssl-key-pem-file <key.pem>, or '
            '--ssl-cname <fqdn> --ssl-secret <secret in namespace azureml>; or, for development and test only, '
            '--allow-insecure-connections true.')
    if not public.get('sslCname'):
        raise RequiredArgumentMissingError(
            'HTTPS inference needs the endpoint\'s CNAME.',
            'Add --ssl-cname <fqdn> (or --config sslCname=<fqdn>): the DNS name clients use, covered by the '
            'certificate.')


RELAY_BYO_HELP = ('Your own Azure Relay on Arc needs both --config relayserver.hybridConnectionResourceID=<hybrid '
                  'connection resource id> and --config-protected relayServerConnectionString=<connection string of '
                  'its azureml_rw rule> (in a --config-protected-file: {"relayServerConnectionString": "..."}).')


def check_relay(settings: Settings, settings_input: SettingsInput):
    hc_id = settings.public.get('relayserver.hybridConnectionResourceID')
    conn = settings.protected.get('relayServerConnectionString')
    given = 'relayServerConnectionString' in settings.protected     # given empty still counts as given
    if hc_id and not conn:
        raise RequiredArgumentMissingError(
            (f"Setting {settings_input.label('relayserver.hybridConnectionResourceID')} names your own "
             "Azure Relay hybrid connection, but its connection string is not given (protected "
             "setting relayServerConnectionString)."), RELAY_BYO_HELP)
    if given and not hc_id:
        raise RequiredArgumentMissingError(
            (f"Setting {settings_input.label('relayServerConnectionString', True)} gives your own "
             "Azure Relay connection string, but not its hybrid connection (setting "
             "relayserver.hybridConnectionResourceID); amlk8s does not replace a relay you bring."), RELAY_BYO_HELP)
    if conn:
        _validate_relay_connection_string(settings_input.label('relayServerConnectionString', True), conn)
        entity = conn.lower().rsplit('entitypath=', 1)[-1].split(';')[0].strip()
        if entity and entity != hc_id.rstrip('/').rsplit('/', 1)[-1].lower():
            raise InvalidArgumentValueError(
                (f"The relay connection string is for hybrid connection {entity!r}, but "
                 f"relayserver.hybridConnectionResourceID names {hc_id.rsplit('/', 1)[-1]!r}."),
                'Use the connection string of the same hybrid connection.')
        settings.relay_supplied = True


def check_fixed_arguments(extension_type=None, scope=None, release_namespace=None):
    """The k8s-extension compatibility arguments: accepted, but only with their one valid value."""
    if extension_type is not None and extension_type.strip().lower() != EXTENSION_TYPE.lower():
        raise InvalidArgumentValueError(
            f'--extension-type is {extension_type!r}, but amlk8s deploys only {EXTENSION_TYPE}.',
            'Drop --extension-type (it is implied), or use az k8s-extension for other extension types.')
    if scope is not None and scope.strip().lower() != SCOPE:
        raise InvalidArgumentValueError(
            f'--scope is {scope!r}, but the AzureML extension installs only at cluster scope.',
            'Drop --scope or use --scope cluster.')
    if release_namespace is not None and release_namespace.strip() != RELEASE_NAMESPACE:
        raise InvalidArgumentValueError(
            (f'--release-namespace is {release_namespace!r}, but the AzureML extension always installs '
             f'into namespace {RELEASE_NAMESPACE}.'),
            'Drop --release-namespace or use --release-namespace azureml. Workloads can still run in other '
            'namespaces: pick one when attaching the cluster (az amlk8s attach --namespace).')


@dataclass(frozen=True)
class VersionChoice:
    auto_upgrade: Optional[bool]
    version: Optional[str]
    release_train: Optional[str]
    warnings: Tuple[str, ...] = ()


def resolve_version(auto_upgrade=None, version=None, release_train=None, *, default_train=True) -> VersionChoice:
    """--auto-upgrade-minor-version / --version / --release-train, with the service's rule: a pinned version needs
    auto-upgrade off (since API 2023-05-01 the service rejects both)."""
    warnings = []
    if version is not None:
        version = version.strip()
        if not _VERSION.match(version):
            raise InvalidArgumentValueError(
                f'--version {version!r} is not an extension version such as 1.1.88.',
                'List the available versions with az k8s-extension extension-types list-versions-by-cluster '
                '--extension-type microsoft.azureml.kubernetes ..., or leave --version out for the latest.')
        if auto_upgrade is True:
            raise MutuallyExclusiveArgumentError(
                '--version pins the extension, which needs --auto-upgrade-minor-version false, but it is true.',
                'Add --auto-upgrade-minor-version false, or drop --version to follow the release train.')
        auto_upgrade = False
    if release_train is not None:
        release_train = release_train.strip()
        if not release_train:
            raise InvalidArgumentValueError('--release-train is empty.', 'Use --release-train stable or preview.')
        if release_train.lower() not in KNOWN_RELEASE_TRAINS:
            known = ', '.join(KNOWN_RELEASE_TRAINS)
            warnings.append(f'--release-train {release_train} is not one of {known}; the service rejects unknown '
                            'trains with "Chart path not found".')
    elif default_train:
        release_train = DEFAULT_RELEASE_TRAIN
    return VersionChoice(auto_upgrade, version, release_train, tuple(warnings))


def check_version_available(choice: VersionChoice, facts) -> List[str]:
    """A pinned --version must exist for its release train (the extensionTypes versions API of the cluster): an
    unknown one is accepted by ARM and fails later in the cluster with "Chart path not found". Returns warnings."""
    if choice.version is None:
        return []
    available = getattr(facts, 'extension_versions', None)
    train = getattr(facts, 'extension_versions_train', None) or choice.release_train or DEFAULT_RELEASE_TRAIN
    if available is None:
        return [(f'Could not read the versions of {EXTENSION_TYPE} for release train {train}, so '
                 f'--version {choice.version} was not checked; an unknown version fails in the cluster '
                 'with "Chart path not found".')]
    if choice.version in available:
        return []
    shown = ', '.join(available[:12]) + (', ...' if len(available) > 12 else '')
    raise InvalidArgumentValueError(
        (f"--version {choice.version} is not a version of {EXTENSION_TYPE} in release train "
         f"{train}{(f' (available: {shown})' if available else ' (the release train lists no versions)')}."),
        'Pick one of the listed versions, or leave --version out to get the newest (with '
        '--auto-upgrade-minor-version true).')


# --- Step 3: derive ----------------------------------------------------------------------------------------------

def derive(settings: Settings, facts) -> Tuple[Dict[str, str], Dict[str, str], List[str]]:
    """The public and protected settings to send, given the cluster's facts.

    ``facts`` needs ``ref`` (ClusterRef), ``location``, ``node_count`` and ``is_openshift``. Keys the user set
    always win over derived ones (the ``doamin`` bug of k8s-extension overwrote ``domain``).
    """
    ref = facts.ref
    notes: List[str] = []
    public = dict(settings.public)
    protected = dict(settings.protected)

    def default(key, value):
        if key not in public:
            public[key] = value

    location = (facts.location or '').lower()
    default('cluster_name', ref.resource_id)
    default('clusterId', public['cluster_name'])
    default('prometheus.prometheusSpec.externalLabels.cluster_name', public['cluster_name'])
    if location:
        default('location', location)
        default('jobSchedulerLocation', location)
        default('domain', f'{location}.cloudapp.azure.com')
    default('cluster_name_friendly', ref.cluster_name)
    default('servicebus.enabled', 'false')
    default('relayserver.enabled', 'false' if ref.is_aks else 'true')
    default('nginxIngress.enabled', 'true' if ref.is_aks else 'false')
    if getattr(facts, 'is_openshift', False):
        default('openshift', 'true')

    if _small_cluster(facts, settings.node_selector):
        if 'inferenceRouterHA' not in public and settings.inference:
            notes.append('Fewer than 3 nodes can run the inference router: inferenceRouterHA=false (one router '
                         'instead of three) and clusterPurpose=DevTest.')
        default('inferenceRouterHA', 'false')
        default('clusterPurpose', 'DevTest')

    if settings.inference:
        service_type = public.get('inferenceRouterServiceType')
        public['scoringFe.serviceType.nodePort'] = 'true' if service_type == 'NodePort' else 'false'
        if public.get('internalLoadBalancerProvider') == 'azure':
            public['scoringFe.serviceType.internalLoadBalancer'] = 'true'
        if settings.https and public.get('sslSecret'):
            public['scoringFe.sslSecret'] = public['sslSecret']
        if settings.https and settings.tls is not None:
            protected['scoringFe.sslCert'] = settings.tls.cert_b64
            protected['scoringFe.sslKey'] = settings.tls.key_b64
        if as_bool(public.get('isAKSMigration')):
            public['scoringFe.namespace'] = 'default'

    if 'relayServerConnectionString' in protected:
        protected.setdefault('relayserver.relayConnectionString', protected['relayServerConnectionString'])
        hc_id = public['relayserver.hybridConnectionResourceID']
        default('relayserver.hybridConnectionName', hc_id.rstrip('/').rsplit('/', 1)[-1])
    return public, protected, notes


def _small_cluster(facts, node_selector) -> bool:
    """Fewer than 3 nodes that can host the inference router (the same count as the inference-router-ha check;
    az k8s-extension's plain node count when the pools are unknown)."""
    if getattr(facts, 'node_pools', None) is not None:
        from azext_amlk8s.rules.prereqs import too_few_nodes_for_ha
        verdict = too_few_nodes_for_ha(facts, node_selector)
        if verdict is not None:
            return verdict
    return facts.node_count is not None and facts.node_count < 3


def with_relay(public: Dict[str, str], protected: Dict[str, str], hybrid_connection_id: str,
               hybrid_connection_name: str, connection_string: str):
    """Add the relay created (or found) for an Arc cluster, as az k8s-extension does."""
    public['relayserver.hybridConnectionResourceID'] = hybrid_connection_id
    public['relayserver.hybridConnectionName'] = hybrid_connection_name
    with_relay_key(protected, connection_string)


def with_relay_key(protected: Dict[str, str], connection_string: str):
    """The relay's connection string, under both keys the chart reads (k8s-extension's dereference)."""
    protected['relayServerConnectionString'] = connection_string
    protected['relayserver.relayConnectionString'] = connection_string


def needs_relay(public: Mapping[str, str], protected: Mapping[str, str]) -> bool:
    """True when the extension needs an Azure Relay that amlk8s must find or create."""
    return as_bool(public.get('relayserver.enabled')) is not False and 'relayServerConnectionString' not in protected


def masked(protected: Mapping[str, str]) -> Dict[str, str]:
    return {key: PROTECTED_PLACEHOLDER for key in protected}


def extension_body(public, protected, version_choice: VersionChoice, identity: Optional[str] = None) -> dict:
    """The ARM body of the extension (API 2023-05-01), as sent by the PUT."""
    properties = {
        'extensionType': EXTENSION_TYPE,
        'autoUpgradeMinorVersion': True if version_choice.auto_upgrade is None else version_choice.auto_upgrade,
        'releaseTrain': version_choice.release_train,
        'scope': {'cluster': {'releaseNamespace': RELEASE_NAMESPACE}},
        'configurationSettings': dict(public),
        'configurationProtectedSettings': dict(protected),
    }
    if version_choice.version is not None:
        properties['version'] = version_choice.version
    body = {'properties': properties}
    if identity:
        body['identity'] = {'type': identity}
    return body


def intent_fields(settings: Optional[Settings]) -> dict:
    """The keyword arguments of ``prereqs.Intent`` for these settings (empty when no settings were given)."""
    if settings is None:
        return {}
    return {
        'training': settings.training,
        'inference': settings.inference,
        'router_ha': settings.flag('inferenceRouterHA'),
        'service_type': (settings.get('inferenceRouterServiceType') or '')[:1].lower() +
                        (settings.get('inferenceRouterServiceType') or '')[1:] or None,
        'internal_lb': settings.get('internalLoadBalancerProvider') == 'azure',
        'node_selector': settings.node_selector,
        'nvidia_plugin': settings.flag('installNvidiaDevicePlugin'),
        'cluster_purpose': settings.get('clusterPurpose'),
        'creates_relay': (not settings.relay_supplied
                          and as_bool(settings.public.get('relayserver.enabled')) is not False),
    }


def unique(messages) -> List[str]:
    seen, out = set(), []
    for message in messages:
        if message and message not in seen:
            seen.add(message)
            out.append(message)
    return out


def summary(settings: Settings) -> str:
    """One line describing the resolved settings (no secrets)."""
    parts = [' and '.join(w for w, on in (('training', settings.training), ('inference', settings.inference)) if on)
             or 'no workload']
    if settings.inference:
        endpoint = settings.get('inferenceRouterServiceType') or '?'
        if settings.get('internalLoadBalancerProvider'):
            endpoint += ' (internal)'
        if settings.https:
            endpoint += (f", HTTPS for {settings.get('sslCname')} with "
                         f"{'secret ' + settings.get('sslSecret') if settings.get('sslSecret') else 'the given '}"
                         f"{'' if settings.get('sslSecret') else 'PEM files'}")
        else:
            endpoint += ', HTTP only'
        parts.append('inference router ' + endpoint)
    if settings.node_selector:
        parts.append('node selector ' + ', '.join(f'{k}={v}' for k, v in settings.node_selector.items()))
    return 'Settings are valid: ' + '; '.join(parts) + '.'


# --- the installed settings, judged as input is --------------------------------------------------------------------

def installed_key_findings(installed, target: str = '<cluster arguments>') -> list:
    """verify: keys of the extension's own ``configurationSettings`` that the chart ignores because only their case
    differs from a documented key (keys are case-sensitive: ``InferenceRouterHA=False`` leaves HA on). Each a
    warning naming the key, what the chart did instead, and the update that fixes it."""
    from azext_amlk8s.rules import health
    known = {name.lower(): name for name in CATALOGUE}
    found = []
    for key, value in (installed or {}).items():
        meant = known.get(str(key).lower())
        if meant is None or meant == key or meant in installed:
            continue
        shown = shown_value(value) if health.is_secret_setting(meant, value) or looks_secret(str(value)) else \
            repr(str(value))
        found.append(health.make_finding('settings', 'warning', [health.Diagnosis(
            'setting-ignored', 'SETTING_KEY_IGNORED',
            f'The installed setting {key}={shown} is ignored: keys are case-sensitive and the chart reads {meant}, '
            f'so {meant} kept its default.',
            f'Set it with the right key: az amlk8s update {target} --config {meant}={shell_quote(str(value))}' if not
            health.is_secret_setting(meant, value) else f'Set it with the right key ({meant}) with az amlk8s update.',
            False)], f'{key} (meant: {meant})'))
    return found
