"""Run the emulator in the foreground.

    python -m tests.emulator --scenario default --port 0 --state-dir DIR

Writes DIR/emulator.json ({"base_url", "ca_path", "subscription_id", "tenant_id", "pid"}), the redacted
request log DIR/requests.jsonl, a seeded az config dir DIR/azure-config, a dev-extension folder
DIR/extension-dev (amlk8s from this working tree) and DIR/env, so that

    set -a; . DIR/env; set +a; az amlk8s ...

talks to the emulator. Prints one line: the base URL. SIGTERM or SIGINT stop it cleanly.
"""

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from . import azconfig
from .scenarios import SCENARIOS
from .server import Emulator

REPO = Path(__file__).resolve().parents[2]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="default", choices=sorted(SCENARIOS))
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state-dir", required=True, help="where emulator.json, env, logs and certs go")
    parser.add_argument("--extension-source", default=str(REPO / "azext_amlk8s"),
                        help="the azext_* package az should load (default: this repository's)")
    parser.add_argument("--no-extension", action="store_true", help="do not set AZURE_EXTENSION_DEV_SOURCES")
    args = parser.parse_args(argv)

    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    emu = Emulator(scenario=args.scenario, state_dir=state_dir, host=args.host, port=args.port).start()
    try:
        config_dir = azconfig.seed_config_dir(state_dir / "azure-config", emu.base_url, emu.subscription_id,
                                              emu.tenant_id)
        extension_dir = state_dir / "cliextensions"
        extension_dir.mkdir(exist_ok=True)
        dev_sources = None
        if not args.no_extension and Path(args.extension_source).is_dir():
            dev_sources = azconfig.make_dev_sources(state_dir / "extension-dev", args.extension_source)
        env = azconfig.az_environment(emu.base_url, emu.ca_path, config_dir, dev_sources=dev_sources,
                                      extension_dir=extension_dir, base_env={})
        azconfig.write_env_file(state_dir / "env", env, azconfig.ENV_FILE_KEYS)
        info = dict(emu.info(), pid=os.getpid(), scenario=args.scenario, config_dir=str(config_dir),
                    env_file=str(state_dir / "env"), log_path=str(emu.log_path))
        tmp = state_dir / "emulator.json.tmp"
        tmp.write_text(json.dumps(info, indent=2), encoding="utf-8")
        os.replace(tmp, state_dir / "emulator.json")
        print(emu.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
