#!/usr/bin/env python
# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Packaging of the `amlk8s` Azure CLI extension (az extension add --source <wheel>)."""

from setuptools import find_packages, setup

VERSION = '1.0.0b3'

CLASSIFIERS = [
    'Development Status :: 4 - Beta',
    'Intended Audience :: Developers',
    'Intended Audience :: System Administrators',
    'Programming Language :: Python',
    'Programming Language :: Python :: 3',
    'Programming Language :: Python :: 3.10',
    'Programming Language :: Python :: 3.11',
    'Programming Language :: Python :: 3.12',
    'Programming Language :: Python :: 3.13',
    'License :: OSI Approved :: MIT License',
]

# Only what the extension imports and azure-cli does not bundle. azure-cli already brings knack, azure-cli-core,
# azure-core, azure-mgmt-core, cryptography and packaging (and azure-mgmt-containerservice, which amlk8s does not
# need: it reads clusters as plain ARM JSON). Azure Relay is driven with plain ARM requests too: no relay SDK.
# The official Kubernetes client reads kubeconfigs (contexts, exec plugins, client certificates) for the in-cluster
# checks; it is imported only when a command reads the cluster.
DEPENDENCIES = [
    'azure-mgmt-kubernetesconfiguration~=3.1',
    'kubernetes>=24.2.0',
]

with open('README.md', 'r', encoding='utf-8') as f:
    README = f.read()
with open('HISTORY.rst', 'r', encoding='utf-8') as f:
    HISTORY = f.read()

setup(
    name='amlk8s',
    version=VERSION,
    description='Deploy, check, verify, update and remove the Azure Machine Learning extension on AKS and '
                'Azure Arc-enabled Kubernetes clusters.',
    long_description=README + '\n\n' + HISTORY,
    long_description_content_type='text/markdown',
    license='MIT',
    author='amlk8s contributors',
    url='https://github.com/amlk8s/amlk8s',
    classifiers=CLASSIFIERS,
    python_requires='>=3.10',
    packages=find_packages(exclude=['tests', 'tests.*']),
    install_requires=DEPENDENCIES,
    package_data={'azext_amlk8s': ['azext_metadata.json']},
)
