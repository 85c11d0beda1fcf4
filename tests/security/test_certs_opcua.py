"""`egiz certs create` certificates carry a real Basic256Sha256 SignAndEncrypt OPC UA session.

A real asyncua server and client on loopback: the negotiated policy and mode are read back from
the server's side of the secure channel; a plain client and a client whose certificate is not
signed by our CA are refused.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from asyncua import Client, Server, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from cryptography import x509

from egiz.cli.certs import create

B256 = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"


async def _server(certs: Path, port: int) -> Server:
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/egiz/")
    await server.set_application_uri("urn:egiz:simulator")
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    await server.load_certificate(str(certs / "simulator.pem"))
    await server.load_private_key(str(certs / "simulator.key.pem"))
    trusted = certs / "trusted"  # asyncua's trust store reads a directory of CA certificates
    trusted.mkdir(exist_ok=True)
    (trusted / "ca.pem").write_bytes((certs / "ca.pem").read_bytes())
    store = TrustStore([trusted], [])
    await store.load()
    opts = CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT
    server.set_certificate_validator(CertificateValidator(opts, store))
    idx = await server.register_namespace("urn:egiz:test")
    obj = await server.nodes.objects.add_object(idx, "Pump")
    await obj.add_variable(ua.NodeId("speed", idx), "speed", 1480.0)
    await server.start()
    return server


async def _secure_client(url: str, certs: Path, name: str, server_certs: Path) -> Client:
    client = Client(url, timeout=5)
    client.application_uri = f"urn:egiz:{name}"
    await client.set_security(
        SecurityPolicyBasic256Sha256,
        str(certs / f"{name}.pem"),
        str(certs / f"{name}.key.pem"),
        server_certificate=str(server_certs / "simulator.pem"),
        mode=ua.MessageSecurityMode.SignAndEncrypt,
    )
    return client


def test_certs_create_sets_opcua_fields(tmp_path: Path) -> None:
    ca, issued = create(tmp_path, ("edge",), ["plant.example"])
    cert = x509.load_pem_x509_certificate(issued[0].cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "urn:egiz:edge" in san.get_values_for_type(x509.UniformResourceIdentifier)
    assert "plant.example" in san.get_values_for_type(x509.DNSName)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and ku.data_encipherment
    assert cert.public_key().key_size == 2048
    assert (issued[0].key.stat().st_mode & 0o777) == 0o600
    ca_cert = x509.load_pem_x509_certificate(ca.read_bytes())
    cert.verify_directly_issued_by(ca_cert)


def test_certs_cli_writes_files(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "egiz.cli.main", "certs", "create", "--out", str(tmp_path),
         "--name", "edge"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "ca.pem").exists() and (tmp_path / "edge.key.pem").exists()
    assert "urn:egiz:edge" in out.stdout


def test_certs_opcua_sign_and_encrypt_negotiated(tmp_path: Path, unused_port: int) -> None:
    certs = tmp_path / "certs"
    create(certs, ("edge", "simulator"))
    rogue = tmp_path / "rogue"
    create(rogue, ("edge",))  # same name and URI, but signed by another CA
    url = f"opc.tcp://127.0.0.1:{unused_port}/egiz/"

    async def main() -> None:
        server = await _server(certs, unused_port)
        try:
            client = await _secure_client(url, certs, "edge", certs)
            async with client:
                idx = await client.get_namespace_index("urn:egiz:test")
                value = await client.get_node(ua.NodeId("speed", idx)).read_value()
                assert value == 1480.0
                # Read back what the server's end of the channel negotiated.
                chans = [p.processor._connection.security_policy for p in server.bserver.clients]
                assert chans, "the server sees no client channel"
                assert {c.URI for c in chans} == {B256}
                assert {c.Mode for c in chans} == {ua.MessageSecurityMode.SignAndEncrypt}
                mine = client.uaclient.protocol._connection.security_policy
                assert mine.URI == B256 and mine.Mode == ua.MessageSecurityMode.SignAndEncrypt

            plain = Client(url, timeout=5)
            with pytest.raises((ua.UaError, OSError, asyncio.TimeoutError)):
                async with plain:
                    await plain.get_namespace_index("urn:egiz:test")

            intruder = await _secure_client(url, rogue, "edge", certs)
            with pytest.raises((ua.UaError, OSError, asyncio.TimeoutError)):
                async with intruder:
                    await intruder.get_namespace_index("urn:egiz:test")
        finally:
            await server.stop()

    asyncio.run(main())
