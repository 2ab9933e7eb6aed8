"""Point a real `az` at the emulator: a seeded config dir, a dev-extension folder, the environment.

This is the verified recipe for running the real az against a local ARM emulator (seeded config dir, managed
identity, one CA, telemetry and version checks off): no
`az cloud register`, `az cloud set` or `az login` call is needed.
"""

import configparser
import datetime
import json
import os
import shlex
from importlib import metadata
from pathlib import Path

CLOUD_NAME = "AmlK8sEmulator"
IDENTITY_HEADER = "amlk8s-emulator-identity-header"
EXTENSION_NAME = "amlk8s"
EXTENSION_VERSION = "1.0.0b3"

# Variables removed from the inherited environment before the emulator's own are set: anything that
# could make az trust another CA, talk to another identity endpoint, or load other extensions.
_DROP_EXACT = {"SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
               "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT",
               "ACC_CLOUD", "ARM_CLOUD_METADATA_URL", "AZURE_CONFIG_DIR", "AZURE_EXTENSION_DIR"}
_DROP_PREFIXES = ("AZURE_CORE_", "AZURE_EXTENSION_", "AZURE_DEFAULTS_", "AZURE_CLOUD_", "AZURE_CLIENT_",
                  "AZURE_TENANT_", "AZURE_SUBSCRIPTION_", "AZURE_USERNAME", "AZURE_PASSWORD")

_VERSIONS_CACHE = {}


def installed_az_versions():
    """The versions az keeps in versionCheck.json, read from the installed distributions."""
    if not _VERSIONS_CACHE:
        versions = {}
        for dist in metadata.distributions():
            name = (dist.metadata["Name"] or "").lower()
            if name == "azure-cli":
                versions["azure-cli"] = {"local": dist.version}
            elif name.startswith("azure-cli-"):
                versions[name[len("azure-cli-"):]] = {"local": dist.version}
        _VERSIONS_CACHE.update(versions)
    return json.loads(json.dumps(_VERSIONS_CACHE))


def seed_config_dir(config_dir, base_url, subscription_id, tenant_id, subscription_name="amlk8s-emulator",
                    extra_subscriptions=None):
    """Write config, clouds.config, azureProfile.json and versionCheck.json into `config_dir`.

    extra_subscriptions: more subscriptions for azureProfile.json (not default), so `az account list` and
    `--subscription ID` know them: ids, or dicts {"id", "name", "tenant_id"} (e.g. `emu.subscriptions[1:]`).
    """
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    base = base_url.rstrip("/")

    config = configparser.ConfigParser()
    config["cloud"] = {"name": CLOUD_NAME}
    config["core"] = {"collect_telemetry": "false", "survey_message": "false", "no_color": "true"}
    config["extension"] = {"use_dynamic_install": "no"}
    with open(config_dir / "config", "w", encoding="utf-8") as handle:
        config.write(handle)

    clouds = configparser.ConfigParser()
    clouds[CLOUD_NAME] = {
        "endpoint_resource_manager": base + "/",
        "endpoint_active_directory": base,
        "endpoint_active_directory_resource_id": base + "/",
        "endpoint_management": base + "/",
        "subscription": subscription_id,
    }
    with open(config_dir / "clouds.config", "w", encoding="utf-8") as handle:
        clouds.write(handle)

    def entry(sub_id, name, tenant, default):
        return {"id": sub_id, "name": name, "state": "Enabled", "isDefault": default, "tenantId": tenant,
                "environmentName": CLOUD_NAME, "homeTenantId": tenant, "managedByTenants": [],
                "user": {"name": "systemAssignedIdentity", "type": "servicePrincipal", "assignedIdentityInfo": "MSI"}}

    subscriptions = [entry(subscription_id, subscription_name, tenant_id, True)]
    for index, extra in enumerate(extra_subscriptions or [], start=2):
        extra = extra if isinstance(extra, dict) else {"id": str(extra)}
        if extra["id"].lower() == subscription_id.lower():
            continue
        subscriptions.append(entry(extra["id"], extra.get("name") or f"{subscription_name}-{index}",
                                   extra.get("tenant_id") or tenant_id, False))
    profile = {"installationId": "00000000-0000-0000-0000-0000000e0001", "subscriptions": subscriptions}
    (config_dir / "azureProfile.json").write_text(json.dumps(profile, indent=2), encoding="utf-8")

    version_check = {"versions": installed_az_versions(),
                     "update_time": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")}
    (config_dir / "versionCheck.json").write_text(json.dumps(version_check), encoding="utf-8")
    return config_dir


def make_dev_sources(directory, extension_source):
    """Make `directory` a dev-sources folder: a symlink to the azext_* package plus a hand-written egg-info.

    Returns the folder to put in AZURE_EXTENSION_DEV_SOURCES. The package is loaded from the working
    tree (live edits are picked up) and no egg-info is written into the repository.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    source = Path(extension_source).resolve()
    link = directory / source.name
    if link.is_symlink() or link.exists():
        if link.is_symlink() and Path(os.readlink(link)) == source:
            pass
        else:
            link.unlink()
            link.symlink_to(source, target_is_directory=True)
    else:
        link.symlink_to(source, target_is_directory=True)
    egg = directory / f"{EXTENSION_NAME}.egg-info"
    egg.mkdir(exist_ok=True)
    (egg / "PKG-INFO").write_text(
        f"Metadata-Version: 2.1\nName: {EXTENSION_NAME}\nVersion: {EXTENSION_VERSION}\n"
        "Summary: amlk8s under development (loaded by the emulator harness)\n", encoding="utf-8")
    return directory


def az_environment(base_url, ca_path, config_dir, dev_sources=None, extension_dir=None, home=None, base_env=None):
    """The environment for an az subprocess that talks only to the emulator.

    Starts from a copy of `base_env` (default os.environ), drops anything that could redirect az
    (CA bundles, identity endpoints, AZURE_CORE_*/AZURE_EXTENSION_* overrides), then sets the
    emulator's variables.
    """
    env = dict(os.environ if base_env is None else base_env)
    for key in list(env):
        if key in _DROP_EXACT or key.startswith(_DROP_PREFIXES):
            del env[key]
    base = base_url.rstrip("/")
    env.update({
        "AZURE_CONFIG_DIR": str(config_dir),
        "REQUESTS_CA_BUNDLE": str(ca_path),
        "IDENTITY_ENDPOINT": base + "/msi/token",
        "IDENTITY_HEADER": IDENTITY_HEADER,
        "AZURE_POD_IDENTITY_AUTHORITY_HOST": base,
        "AZURE_CORE_COLLECT_TELEMETRY": "false",
        "AZURE_EXTENSION_USE_DYNAMIC_INSTALL": "no",
        "AZURE_CORE_NO_COLOR": "true",
        "AZURE_CORE_SURVEY_MESSAGE": "false",
        "AZURE_CORE_OUTPUT": "json",
        "PYTHONWARNINGS": "ignore",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    if dev_sources is not None:
        env["AZURE_EXTENSION_DEV_SOURCES"] = str(dev_sources)
    if extension_dir is not None:
        env["AZURE_EXTENSION_DIR"] = str(extension_dir)
    if home is not None:
        env["HOME"] = str(home)
    return env


def write_env_file(path, env, keys):
    """Write `keys` of `env` as a file for `set -a; . FILE` (and unset the CA overrides az must not see)."""
    lines = ["# amlk8s emulator: use with  set -a; . THIS_FILE; set +a",
             "unset SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE IMDS_ENDPOINT MSI_ENDPOINT MSI_SECRET"]
    lines += [f"{key}={shlex.quote(env[key])}" for key in keys if key in env]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


ENV_FILE_KEYS = ("AZURE_CONFIG_DIR", "REQUESTS_CA_BUNDLE", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
                 "AZURE_POD_IDENTITY_AUTHORITY_HOST", "AZURE_CORE_COLLECT_TELEMETRY",
                 "AZURE_EXTENSION_USE_DYNAMIC_INSTALL", "AZURE_CORE_NO_COLOR", "AZURE_CORE_SURVEY_MESSAGE",
                 "AZURE_EXTENSION_DEV_SOURCES", "AZURE_EXTENSION_DIR")
