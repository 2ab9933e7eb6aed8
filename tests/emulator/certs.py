"""TLS material for the emulator: a throwaway CA and a server certificate made with trustme."""

import os
import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CertPaths:
    ca_path: str       # the CA certificate (PEM): what clients trust (REQUESTS_CA_BUNDLE)
    cert_path: str     # the server certificate chain (PEM)
    key_path: str      # the server private key (PEM)


def make_certs(directory):
    """Write a fresh CA and a server cert for 127.0.0.1 and localhost into `directory`."""
    import trustme

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="amlk8s emulator CA")
    server = ca.issue_cert("127.0.0.1", "localhost")
    paths = CertPaths(
        ca_path=str(directory / "ca.pem"),
        cert_path=str(directory / "server-chain.pem"),
        key_path=str(directory / "server-key.pem"),
    )
    ca.cert_pem.write_to_path(paths.ca_path)
    server.cert_chain_pems[0].write_to_path(paths.cert_path)
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(paths.cert_path, append=True)
    server.private_key_pem.write_to_path(paths.key_path)
    os.chmod(paths.key_path, 0o600)
    return paths


def server_context(paths):
    """An SSL context for the server side."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(paths.cert_path, paths.key_path)
    return context
