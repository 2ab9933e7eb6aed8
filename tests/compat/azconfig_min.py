"""Point an older `az` (the declared minimum, azure-cli 2.51.0) at the emulator.

A thin layer over tests/emulator/azconfig.py; what differs for old az:

- Managed identity. az 2.51 gets its tokens through msrestazure's ``MSIAuthentication``, not MSAL. It reads
  none of IDENTITY_ENDPOINT, IDENTITY_HEADER or AZURE_POD_IDENTITY_AUTHORITY_HOST. Its choice is:
    1. ``APPSETTING_WEBSITE_SITE_NAME`` set: App Service, ``GET {MSI_ENDPOINT}/?resource=..&api-version=2017-09-01``
       with header ``secret: {MSI_SECRET}`` (both variables required);
    2. else ``MSI_ENDPOINT`` set: the retired VM-extension protocol (a form POST to MSI_ENDPOINT);
    3. else IMDS at the hard-coded ``http://169.254.169.254`` (no variable can move it), which is off-box traffic.
  So all three of APPSETTING_WEBSITE_SITE_NAME, MSI_ENDPOINT and MSI_SECRET are set, and ``check_identity_env``
  refuses an environment that lacks one or points anywhere but 127.0.0.1. The IDENTITY_* variables of the base
  recipe stay, so a newer az pointed at by AMLK8S_MIN_CLI (MSAL prefers them) works as well.
- versionCheck.json must carry the OLD az's versions: with other versions az refreshes the cache from the network
  (a connectivity probe to raw.githubusercontent.com) on the first command.
- The extension is loaded from an installed wheel (AZURE_EXTENSION_DIR), not from dev sources: the old venv does
  not hold the extension's SDK dependencies, which `az extension add` installs next to it.
"""

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from tests.emulator import azconfig

REPO = Path(__file__).resolve().parents[2]
DEFAULT_VENV = REPO / ".venv-min"
MIN_CLI_VERSION = "2.51.0"
MSI_SECRET = "amlk8s-emulator-msi-secret"
APP_SERVICE_SITE_NAME = "amlk8s-emulator"
IDENTITY_KEYS = ("APPSETTING_WEBSITE_SITE_NAME", "MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
                 "AZURE_POD_IDENTITY_AUTHORITY_HOST")

_VERSIONS = {}


def find_min_az():
    """The old az to test: $AMLK8S_MIN_CLI (an az executable), else .venv-min/bin/az; None when neither exists."""
    chosen = os.environ.get("AMLK8S_MIN_CLI")
    if chosen:
        path = Path(chosen)
        return path if path.is_file() else None
    path = DEFAULT_VENV / "bin" / "az"
    return path if path.is_file() else None


def _python_of(az_executable):
    """The interpreter of a pip-installed az (its shebang), or None for another kind of launcher."""
    try:
        with open(az_executable, "rb") as handle:
            first = handle.readline().decode("utf-8", "replace").strip()
    except OSError:
        return None
    if first.startswith("#!") and "python" in Path(first[2:].split()[0]).name:
        return first[2:].split()[0]
    return None


def installed_versions(az_executable):
    """{"azure-cli": {"local": ...}, "core": ..., "telemetry": ...} of the az at `az_executable`."""
    key = str(az_executable)
    if key not in _VERSIONS:
        python = _python_of(az_executable)
        if python is None:
            raise RuntimeError(f"{az_executable} is not a pip-installed az (no Python shebang)")
        probe = ("import json\nfrom importlib import metadata\nout = {}\n"
                 "for d in metadata.distributions():\n"
                 "    n = (d.metadata['Name'] or '').lower()\n"
                 "    if n == 'azure-cli': out[n] = {'local': d.version}\n"
                 "    elif n.startswith('azure-cli-'): out[n[len('azure-cli-'):]] = {'local': d.version}\n"
                 "print(json.dumps(out))\n")
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True, timeout=60,
                              env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"})
        _VERSIONS[key] = json.loads(done.stdout)
    return json.loads(json.dumps(_VERSIONS[key]))


def cli_version(az_executable):
    return installed_versions(az_executable).get("azure-cli", {}).get("local")


def distribution_version(az_executable, name):
    """The version of distribution `name` in the az's own environment (site-packages), or None."""
    python = _python_of(az_executable)
    if python is None:
        return None
    probe = ("import sys\nfrom importlib import metadata\ntry:\n    print(metadata.version(sys.argv[1]))\n"
             "except metadata.PackageNotFoundError:\n    pass\n")
    done = subprocess.run([python, "-c", probe, name], capture_output=True, text=True, check=True, timeout=60,
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"})
    return done.stdout.strip() or None


def seed_config_dir(config_dir, base_url, subscription_id, tenant_id, az_executable, **kwargs):
    """azconfig.seed_config_dir, with versionCheck.json holding the versions of the az at `az_executable`."""
    config_dir = azconfig.seed_config_dir(config_dir, base_url, subscription_id, tenant_id, **kwargs)
    check_file = config_dir / "versionCheck.json"
    version_check = json.loads(check_file.read_text(encoding="utf-8"))
    version_check["versions"] = installed_versions(az_executable)
    check_file.write_text(json.dumps(version_check), encoding="utf-8")
    return config_dir


def az_environment(base_url, ca_path, config_dir, extension_dir=None, home=None, base_env=None):
    """azconfig.az_environment plus the App Service 2017-09-01 identity variables old az reads (no dev sources)."""
    env = azconfig.az_environment(base_url, ca_path, config_dir, dev_sources=None, extension_dir=extension_dir,
                                  home=home, base_env=base_env)
    for key in list(env):
        if key.startswith("APPSETTING_"):
            del env[key]
    base = base_url.rstrip("/")
    env.update({
        "APPSETTING_WEBSITE_SITE_NAME": APP_SERVICE_SITE_NAME,
        "MSI_ENDPOINT": base + "/msi/token",
        "MSI_SECRET": MSI_SECRET,
    })
    check_identity_env(env)
    return env


def offline_pip(env, wheelhouse):
    """`env` with pip (run by `az extension add`) confined to the local wheelhouse."""
    env = dict(env)
    for key in [k for k in env if k.startswith("PIP_")]:
        del env[key]
    env.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse), "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PIP_NO_CACHE_DIR": "1"})
    return env


def check_identity_env(env):
    """Raise unless every identity variable old and new az read is set and names 127.0.0.1 only."""
    missing = [key for key in IDENTITY_KEYS if not env.get(key)]
    if missing:
        raise ValueError("identity variables missing (az would fall back to IMDS at 169.254.169.254): "
                         + ", ".join(missing))
    for key in ("MSI_ENDPOINT", "IDENTITY_ENDPOINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST"):
        parts = urlsplit(env[key])
        if parts.scheme != "https" or parts.hostname != "127.0.0.1":
            raise ValueError(f"{key}={env[key]!r} must be an https URL on 127.0.0.1")
    for key in ("IMDS_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT", "ACC_CLOUD"):
        if key in env:
            raise ValueError(f"{key} must not be set: it switches az to another identity protocol")
