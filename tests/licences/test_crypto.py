"""Signatures (SM2-with-SM3, Ed25519), the canonical form, keys at rest, and
interoperability with the openssl 3 command line."""

from __future__ import annotations

import base64
import functools
import shutil
import subprocess
import unicodedata

import pytest

from tongban.core.errors import ConfigurationError
from tongban.licences import crypto, seals

MSG = "电子证照 canonical data".encode()


@pytest.mark.parametrize("alg", ["sm2", "ed25519"])
def test_sign_and_verify(alg):
    priv, pub = crypto.generate(alg)
    key = crypto.PrivateKey(alg, priv)
    sig = key.sign(MSG)
    assert crypto.verify(alg, pub, sig, MSG)
    assert not crypto.verify(alg, pub, sig, MSG + b"x")
    assert not crypto.verify(alg, pub, sig[:-1] + bytes([sig[-1] ^ 1]), MSG)
    assert not crypto.verify(alg, pub, b"garbage", MSG)
    _priv2, other = crypto.generate(alg)
    assert not crypto.verify(alg, other, sig, MSG)
    assert (
        crypto.key_id(alg, pub).startswith(f"{alg}-")
        and len(crypto.key_id(alg, pub)) == len(alg) + 17
    )
    assert "hidden" in repr(key) and priv.hex() not in repr(key)


def test_digests_are_sm3_and_sha256():
    assert (
        crypto.digest("sm2", b"abc").hex()
        == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    assert (
        crypto.digest("ed25519", b"abc").hex()
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_canonical_form_is_stable_sorted_compact_nfc():
    decomposed = unicodedata.normalize("NFD", "Café")
    a = {"b": [1, True, None], "a": {"名称": decomposed, "z": "x"}}
    b = {"a": {"z": "x", "名称": "Café"}, "b": [1, True, None]}
    assert crypto.canonical(a) == crypto.canonical(b)
    assert crypto.canonical(a) == '{"a":{"z":"x","名称":"Café"},"b":[1,true,null]}'.encode()
    with pytest.raises(crypto.CanonicalError):
        crypto.canonical({"x": 1.5})


def test_keys_at_rest_are_encrypted_and_bound_to_their_key_id():
    kek = crypto.derive_kek(dedicated="", secret_key="a-secret")
    store = crypto.SoftwareKeyStore(kek)
    stored = store.create("ed25519")
    kid = crypto.key_id("ed25519", stored.public_pem)
    assert stored.private_key_enc and stored.private_key_enc.startswith("v1.")
    signer = store.signer(
        algorithm="ed25519", key_id=kid, private_key_enc=stored.private_key_enc, key_ref=""
    )
    assert crypto.verify("ed25519", stored.public_pem, signer.sign(MSG), MSG)
    other = crypto.SoftwareKeyStore(crypto.derive_kek(dedicated="", secret_key="another-secret"))
    with pytest.raises(crypto.KeyDecryptionError):
        other.signer(
            algorithm="ed25519", key_id=kid, private_key_enc=stored.private_key_enc, key_ref=""
        )
    with pytest.raises(crypto.KeyDecryptionError):  # the ciphertext copied onto another seal row
        crypto.SoftwareKeyStore(kek).signer(
            algorithm="ed25519",
            key_id="ed25519-0000000000000000",
            private_key_enc=stored.private_key_enc,
            key_ref="",
        )
    dedicated = base64.b64encode(bytes(range(32))).decode()
    assert crypto.derive_kek(dedicated=dedicated, secret_key="") == bytes(range(32))
    with pytest.raises(ConfigurationError):
        crypto.derive_kek(dedicated="c2hvcnQ=", secret_key="")
    assert "kek=" in repr(store) and kek.hex() not in repr(store)


def test_private_keys_do_not_pickle():
    import pickle

    priv, _ = crypto.generate("ed25519")
    with pytest.raises(TypeError):
        pickle.dumps(crypto.PrivateKey("ed25519", priv))


OPENSSL = shutil.which("openssl") or "openssl"


def _openssl_has_sm2() -> bool:
    if not shutil.which("openssl"):
        return False
    out = subprocess.run(  # noqa: S603 -- fixed arguments
        [OPENSSL, "list", "-public-key-algorithms"], capture_output=True, text=True
    )
    return "SM2" in out.stdout


needs_openssl_sm2 = pytest.mark.skipif(not _openssl_has_sm2(), reason="the openssl CLI lacks SM2")


@needs_openssl_sm2
def test_an_sm2_signature_of_the_product_verifies_with_openssl(tmp_path):
    priv, pub = crypto.generate("sm2")
    sig = crypto.PrivateKey("sm2", priv).sign(MSG)
    (tmp_path / "pub.pem").write_text(pub)
    (tmp_path / "msg").write_bytes(MSG)
    (tmp_path / "sig").write_bytes(sig)
    run = subprocess.run(  # noqa: S603 -- fixed arguments
        [
            OPENSSL,
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "pub.pem",
            "-rawin",
            "-in",
            "msg",
            "-sigfile",
            "sig",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:1234567812345678",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "Verified Successfully" in run.stdout, run.stdout + run.stderr
    (tmp_path / "msg").write_bytes(MSG + b"!")
    run = subprocess.run(  # noqa: S603 -- fixed arguments
        [
            OPENSSL,
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "pub.pem",
            "-rawin",
            "-in",
            "msg",
            "-sigfile",
            "sig",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:1234567812345678",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0


@needs_openssl_sm2
def test_an_openssl_sm2_signature_verifies_in_the_product(tmp_path):
    run = functools.partial(subprocess.run, cwd=tmp_path, check=True, capture_output=True)
    run([OPENSSL, "genpkey", "-algorithm", "SM2", "-out", "key.pem"])
    run([OPENSSL, "pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"])
    (tmp_path / "msg").write_bytes(MSG)
    run(
        [
            OPENSSL,
            "pkeyutl",
            "-sign",
            "-inkey",
            "key.pem",
            "-rawin",
            "-in",
            "msg",
            "-out",
            "sig",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:1234567812345678",
        ],
    )
    pub = (tmp_path / "pub.pem").read_text()
    assert crypto.verify("sm2", pub, (tmp_path / "sig").read_bytes(), MSG)
    assert not crypto.verify("sm2", pub, (tmp_path / "sig").read_bytes(), MSG + b"!")
    # and the openssl key works as a seal key record
    assert seals.pem_of(seals.key_record(algorithm="sm2", public_pem=pub)).split() == pub.split()


@pytest.mark.parametrize("alg", ["sm2", "ed25519"])
def test_seal_made_by_the_maker_and_a_signature_verify_in_order(alg):
    import datetime as dt

    maker_priv, maker_pub = crypto.generate(alg)
    maker = crypto.PrivateKey(alg, maker_priv)
    maker_rec = seals.key_record(algorithm=alg, public_pem=maker_pub)
    priv, pub = crypto.generate(alg)
    signer = crypto.PrivateKey(alg, priv)
    rec = seals.key_record(algorithm=alg, public_pem=pub)
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    info = seals.seal_info(
        esid="370102ABC",
        name="测试局电子证照专用章",
        certs=[rec],
        created=at,
        valid_from=at,
        valid_until=at.replace(year=2031),
        picture_type="svg",
        picture=seals.seal_svg("测试局").encode(),
    )
    seal_doc = seals.make_seal_document(info, maker=maker, maker_record=maker_rec)
    makers = {maker_rec["kid"]: maker_rec}
    assert seals.verify_seal(seal_doc, makers=makers)
    doc = {"name": "证", "data": {"a": "b"}}
    sig, _hash = seals.sign_document(
        doc,
        identifier="ID",
        seal_doc=seal_doc,
        signer=signer,
        signer_record=rec,
        at=at.replace(month=6),
    )
    kw = {"seal_doc": seal_doc, "makers": makers, "document": doc, "identifier": "ID"}
    assert seals.verify_signature(sig, **kw).ok
    assert (
        seals.verify_signature(sig, **{**kw, "document": {**doc, "name": "假"}}).step == "data_hash"
    )
    assert seals.verify_signature(sig, **{**kw, "identifier": "OTHER"}).step == "data_hash"
    bad = {**sig, "TBS_Sign": {**sig["TBS_Sign"], "timeInfo": "2026-06-02T00:00:00Z"}}
    assert seals.verify_signature(bad, **kw).step == "signature"
    assert seals.verify_signature(sig, **{**kw, "makers": {}}).step == "seal"
    forged = {**seal_doc, "sealInfo": {**seal_doc["sealInfo"], "esID": "370102XYZ"}}
    assert not seals.verify_seal(forged, makers=makers)
    # a key not in the seal's list
    p3, pub3 = crypto.generate(alg)
    rec3 = seals.key_record(algorithm=alg, public_pem=pub3)
    sig3, _ = seals.sign_document(
        doc,
        identifier="ID",
        seal_doc=seal_doc,
        signer=crypto.PrivateKey(alg, p3),
        signer_record=rec3,
        at=at.replace(month=6),
    )
    assert seals.verify_signature(sig3, **kw).step == "cert_in_seal"
    # applied outside the seal's validity
    late, _ = seals.sign_document(
        doc,
        identifier="ID",
        seal_doc=seal_doc,
        signer=signer,
        signer_record=rec,
        at=at.replace(year=2032),
    )
    assert seals.verify_signature(late, **kw).step == "validity"
