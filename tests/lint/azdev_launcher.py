# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Run azdev (`python azdev_launcher.py linter ...`) with its web look-ups answered locally.

azdev 0.2.13's linter makes two kinds of HTTP request: the remote `cmd_example_config.json` (on a 404 it uses the
copy it ships) and every link found in help text (`broken_site_link_from_*`, MEDIUM). Here every `requests.get`
answers 404 without touching the network, so the first falls back to azdev's own copy and each help link counts as
broken; the links asked for are appended, one a line, to the file named by AZDEV_OFFLINE_URLS_FILE.
"""

import os

import requests


def _offline_get(url, *_args, **_kwargs):
    urls_file = os.environ.get('AZDEV_OFFLINE_URLS_FILE')
    if urls_file:
        with open(urls_file, 'a', encoding='utf-8') as handle:
            handle.write(str(url) + '\n')
    response = requests.models.Response()
    response.status_code = 404
    response.reason = 'Not Found (offline)'
    response.url = str(url)
    response._content = b''  # pylint: disable=protected-access
    return response


def main():
    requests.get = _offline_get
    requests.api.get = _offline_get
    from azdev.__main__ import main as azdev_main
    azdev_main()


if __name__ == '__main__':
    main()
