"""Signature algorithms, canonical data and the key store (密钥存储) of the seals.

Algorithms (no home-made primitives):

- ``sm2``: SM2 signature with SM3 (GB/T 32918, GB/T 32905), distinguishing ID
  ``1234567812345678`` (GM/T 0009 default), through ``tongsuopy`` (Tongsuo,
  the OpenSSL fork of the 铜锁 project): DER-encoded (r, s), interoperable with
  ``openssl pkeyutl -rawin -digest sm3 -pkeyopt distid:1234567812345678``.
- ``ed25519``: RFC 8032 through ``cryptography``.

Document digests (``dataHash``): SM3 with SM2, SHA-256 with Ed25519.

Canonical data (``canonical``): what gets hashed and signed is
``json.dumps(nfc(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
encoded as UTF-8: every string (keys too) NFC-normalised, keys sorted by code
point, no spaces, non-ASCII characters as themselves. Only objects, arrays,
strings, integers, booleans and null are allowed — floats are refused, since
their text form differs between languages. Any verifier can rebuild the bytes
from the JSON (``tools/verify_licence.py`` does, in a few lines).

Private keys never leave a ``KeyStore``: the default ``SoftwareKeyStore``
keeps them encrypted at rest with AES-256-GCM under the deployment key
(``licence_key_encryption_key``, else derived from ``secret_key`` with
HKDF-SHA256); a hardware security module plugs in as another ``KeyStore``
(``configure_keystore``). Neither keys nor key material appear in logs,
reprs or API responses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes as c_hashes
from cryptography.hazmat.primitives import serialization as c_ser
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tongban.core.errors import ConfigurationError

Algorithm = Literal["sm2", "ed25519"]
ALGORITHMS: tuple[Algorithm, ...] = ("sm2", "ed25519")
# Signature algorithm OIDs (GB/T 33560 for SM2-with-SM3; RFC 8410 for Ed25519).
SIGN_OIDS: dict[str, str] = {"sm2": "1.2.156.10197.1.501", "ed25519": "1.3.101.112"}
OID_ALGORITHMS = {v: k for k, v in SIGN_OIDS.items()}
# Digest OIDs: SM3 (GB/T 33560), SHA-256 (NIST).
HASH_OIDS: dict[str, str] = {"sm2": "1.2.156.10197.1.401", "ed25519": "2.16.840.1.101.3.4.2.1"}
HASH_NAMES = {"sm2": "SM3", "ed25519": "SHA-256"}
SM2_DISTID = b"1234567812345678"


class CanonicalError(ValueError):
    pass


# --- encoding helpers ---------------------------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode unpadded base64url; ``ValueError`` for anything else."""
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as e:
        raise ValueError("not base64url") from e


def _nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise CanonicalError("object keys must be strings")
            out[unicodedata.normalize("NFC", k)] = _nfc(v)
        return out
    if isinstance(value, list | tuple):
        return [_nfc(v) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    raise CanonicalError(f"not allowed in canonical data: {type(value).__name__}")


def canonical(obj: Any) -> bytes:
    """The stable serialisation that is hashed and signed (see the module docstring)."""
    return json.dumps(_nfc(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def digest(algorithm: str, data: bytes) -> bytes:
    """SM3 for SM2 seals, SHA-256 for Ed25519 seals."""
    h = c_hashes.Hash(c_hashes.SM3() if algorithm == "sm2" else c_hashes.SHA256())
    h.update(data)
    return h.finalize()


# --- keys ---------------------------------------------------------------------------


def _sm2() -> tuple[Any, Any, Any]:
    from tongsuopy.crypto import hashes as t_hashes
    from tongsuopy.crypto import serialization as t_ser
    from tongsuopy.crypto.asymciphers import ec

    return ec, t_hashes, t_ser


def generate(algorithm: str) -> tuple[bytes, str]:
    """A new key pair: (PKCS#8 DER private key, PEM public key)."""
    if algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
        priv = key.private_bytes(
            c_ser.Encoding.DER, c_ser.PrivateFormat.PKCS8, c_ser.NoEncryption()
        )
        pub = key.public_key().public_bytes(
            c_ser.Encoding.PEM, c_ser.PublicFormat.SubjectPublicKeyInfo
        )
        return priv, pub.decode("ascii")
    if algorithm == "sm2":
        ec, _h, t_ser = _sm2()
        key = ec.generate_private_key(ec.SM2())
        priv = key.private_bytes(
            t_ser.Encoding.DER, t_ser.PrivateFormat.PKCS8, t_ser.NoEncryption()
        )
        pub = key.public_key().public_bytes(
            t_ser.Encoding.PEM, t_ser.PublicFormat.SubjectPublicKeyInfo
        )
        return priv, pub.decode("ascii")
    raise ValueError(f"unknown algorithm {algorithm!r}")


class PrivateKey:
    """A loaded private key that can only sign (its repr shows the algorithm, nothing else)."""

    __slots__ = ("_key", "algorithm")

    def __init__(self, algorithm: str, pkcs8_der: bytes) -> None:
        self.algorithm = algorithm
        if algorithm == "ed25519":
            key = c_ser.load_der_private_key(pkcs8_der, None)
            if not isinstance(key, ed25519.Ed25519PrivateKey):
                raise ValueError("not an Ed25519 key")
            self._key: Any = key
        elif algorithm == "sm2":
            _ec, _h, t_ser = _sm2()
            self._key = t_ser.load_der_private_key(pkcs8_der, None)
        else:
            raise ValueError(f"unknown algorithm {algorithm!r}")

    def sign(self, data: bytes) -> bytes:
        if self.algorithm == "ed25519":
            return self._key.sign(data)
        ec, t_hashes, _s = _sm2()
        return self._key.sign(data, ec.ECDSA(t_hashes.SM3()))

    def __repr__(self) -> str:
        return f"<PrivateKey {self.algorithm} (hidden)>"

    def __reduce__(self) -> Any:  # never pickled into a cache or a queue
        raise TypeError("private keys are not serialisable")


@lru_cache(maxsize=1024)
def load_public(algorithm: str, pem: str) -> Any:
    """A public key object from its PEM (cached: keys are few and immutable)."""
    if algorithm == "ed25519":
        key = c_ser.load_pem_public_key(pem.encode("ascii"))
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    if algorithm == "sm2":
        _ec, _h, t_ser = _sm2()
        return t_ser.load_pem_public_key(pem.encode("ascii"))
    raise ValueError(f"unknown algorithm {algorithm!r}")


def verify(algorithm: str, public_pem: str, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` is ``data``'s signature under the key; never raises for bad input."""
    try:
        key = load_public(algorithm, public_pem)
    except Exception:
        return False
    return verify_loaded(algorithm, key, signature, data)


def verify_loaded(algorithm: str, key: Any, signature: bytes, data: bytes) -> bool:
    """``verify`` with a key object ``load_public`` gave (the hot path keeps it per key id)."""
    if algorithm == "ed25519":
        try:
            key.verify(signature, data)
            return True
        except _CryptoInvalidSignature:
            return False
    try:
        key.verify(signature, data, _sm2_with_sm3())
        return True
    except Exception:  # InvalidSignature, ValueError, an OpenSSL error on a malformed signature
        return False


@lru_cache(maxsize=1)
def _sm2_with_sm3() -> Any:
    ec, t_hashes, _s = _sm2()
    return ec.ECDSA(t_hashes.SM3())


def public_der(algorithm: str, public_pem: str) -> bytes:
    key = load_public(algorithm, public_pem)
    if algorithm == "ed25519":
        return key.public_bytes(c_ser.Encoding.DER, c_ser.PublicFormat.SubjectPublicKeyInfo)
    _ec, _h, t_ser = _sm2()
    return key.public_bytes(t_ser.Encoding.DER, t_ser.PublicFormat.SubjectPublicKeyInfo)


def key_id(algorithm: str, public_pem: str) -> str:
    """``<alg>-<first 16 hex of SHA-256(SubjectPublicKeyInfo DER)>``: stable, public."""
    return f"{algorithm}-{hashlib.sha256(public_der(algorithm, public_pem)).hexdigest()[:16]}"


def jwk(algorithm: str, public_pem: str) -> dict[str, str]:
    """The public key as JWK members: OKP/Ed25519 (RFC 8037) or EC/SM2 (x, y: 32 bytes each)."""
    key = load_public(algorithm, public_pem)
    if algorithm == "ed25519":
        raw = key.public_bytes(c_ser.Encoding.Raw, c_ser.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
    nums = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "SM2",
        "x": b64u(nums.x.to_bytes(32, "big")),
        "y": b64u(nums.y.to_bytes(32, "big")),
    }


# --- the key store --------------------------------------------------------------------


@dataclass(frozen=True)
class StoredKey:
    """What a key store hands back for a new key pair, to keep in the seal row."""

    public_pem: str
    private_key_enc: str | None  # encrypted PKCS#8 (software store); None when held elsewhere
    key_ref: str  # the store's own reference ("" for the software store)


class KeyStore(Protocol):
    """Where seal private keys live. The hook for a hardware security module:
    implement ``create`` and ``signer`` over the module's API and pass it to
    ``configure_keystore`` (the private key then never leaves the module)."""

    name: str

    def create(self, algorithm: str, *, key_id_hint: str) -> StoredKey: ...

    def signer(
        self, *, algorithm: str, key_id: str, private_key_enc: str | None, key_ref: str
    ) -> PrivateKey: ...


class KeyDecryptionError(ConfigurationError):
    code = "licence_key_unavailable"
    message = "无法解密印章私钥：部署密钥与加密时使用的不一致，请联系管理员"


def derive_kek(*, dedicated: str, secret_key: str) -> bytes:
    """The 32-byte deployment key that encrypts seal private keys.

    ``dedicated`` (``licence_key_encryption_key``): base64 (standard or
    url-safe) of exactly 32 random bytes. Empty: HKDF-SHA256 over the
    deployment's ``secret_key`` (changing that secret then makes the stored
    private keys unreadable — set the dedicated key in production).
    """
    if dedicated:
        try:
            raw = base64.b64decode(
                dedicated.strip() + "=" * (-len(dedicated.strip()) % 4),
                altchars=b"-_",
                validate=False,
            )
        except (binascii.Error, ValueError) as e:
            raise ConfigurationError(
                "licence_key_encryption_key 应为 32 字节随机数的 base64 编码"
            ) from e
        if len(raw) != 32:
            raise ConfigurationError(
                "licence_key_encryption_key 应为 32 字节随机数的 base64 编码（openssl rand -base64 32）"
            )
        return raw
    if not secret_key:
        raise ConfigurationError("缺少部署密钥（secret_key）")
    return HKDF(
        algorithm=c_hashes.SHA256(), length=32, salt=b"tongban", info=b"licence-key-encryption/v1"
    ).derive(secret_key.encode("utf-8"))


class SoftwareKeyStore:
    """Private keys in the database, encrypted with AES-256-GCM under the deployment key.

    Ciphertext: ``v1.<fingerprint of the deployment key, 8 hex>.<base64url(nonce ‖ ciphertext ‖ tag)>``,
    the seal's key id as associated data (a ciphertext copied to another seal
    row does not decrypt). Decrypted keys are kept loaded in this process only.
    """

    name = "software"

    def __init__(self, kek: bytes) -> None:
        self._aead = AESGCM(kek)
        self._fp = hashlib.sha256(b"tongban-kek-fp" + kek).hexdigest()[:8]
        self._loaded: dict[tuple[str, str], PrivateKey] = {}

    def __repr__(self) -> str:
        return f"<SoftwareKeyStore kek={self._fp}>"

    def encrypt(self, pkcs8_der: bytes, *, key_id: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, pkcs8_der, key_id.encode("ascii"))
        return f"v1.{self._fp}.{b64u(nonce + ct)}"

    def decrypt(self, blob: str, *, key_id: str) -> bytes:
        try:
            version, fp, body = blob.split(".", 2)
        except ValueError as e:
            raise KeyDecryptionError() from e
        if version != "v1" or fp != self._fp:
            raise KeyDecryptionError()
        raw = b64u_decode(body)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], key_id.encode("ascii"))
        except Exception as e:
            raise KeyDecryptionError() from e

    def create(self, algorithm: str, *, key_id_hint: str = "") -> StoredKey:
        priv, pub = generate(algorithm)
        kid = key_id(algorithm, pub)
        return StoredKey(public_pem=pub, private_key_enc=self.encrypt(priv, key_id=kid), key_ref="")

    def signer(
        self, *, algorithm: str, key_id: str, private_key_enc: str | None, key_ref: str
    ) -> PrivateKey:
        if not private_key_enc:
            raise KeyDecryptionError("该印章私钥不在本地密钥库中", code="licence_key_not_in_store")
        cache_key = (key_id, private_key_enc)
        got = self._loaded.get(cache_key)
        if got is None:
            got = self._loaded[cache_key] = PrivateKey(
                algorithm, self.decrypt(private_key_enc, key_id=key_id)
            )
        return got


_keystore: KeyStore | None = None


def configure_keystore(store: KeyStore | None = None, *, settings: Any = None) -> KeyStore | None:
    """Set the process's key store: ``store`` as given; None resets it to the
    software store, built on first use from ``settings`` (else the licences
    package's configured settings)."""
    global _keystore, _keystore_settings
    _keystore, _keystore_settings = store, settings
    return store


_keystore_settings: Any = None


def keystore() -> KeyStore:
    """The process's key store (the software one under the deployment key unless configured)."""
    global _keystore
    if _keystore is None:
        s = _keystore_settings
        if s is None:
            from tongban.licences import config

            s = config.settings()
        _keystore = SoftwareKeyStore(
            derive_kek(dedicated=s.licence_key_encryption_key, secret_key=s.resolved_secret_key())
        )
    return _keystore
