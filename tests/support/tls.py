"""A throwaway PostgreSQL that admits TLS connections only (hostssl, scram), with a CA of its own and another one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg

from tests.support.pg import PgServer, reconfigure, socket_params


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=d)


def make_server_cert(d: Path, ca: str) -> None:
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "server.key", "-out", "server.csr", cwd=d)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "server.crt", cwd=d)


def tls_only(srv: PgServer, certs: Path) -> None:
    """Make `srv` accept TLS only, with a certificate for localhost/127.0.0.1 signed by certs/central-ca.crt (also
    made: certs/other-ca.crt), and create database "central"."""
    data = Path(srv.dir) / "data"
    make_ca(certs, "central-ca")
    make_ca(certs, "other-ca")
    make_server_cert(certs, "central-ca")
    owner = data.stat()
    for name in ("server.crt", "server.key"):
        target = data / name
        target.write_bytes((certs / name).read_bytes())
        target.chmod(0o600)
        os.chown(target, owner.st_uid, owner.st_gid)
    reconfigure(srv, "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n", ssl="on",
                password_encryption="scram-sha-256")
    with psycopg.connect(**socket_params(srv), autocommit=True) as conn:
        conn.execute("CREATE DATABASE central")
