"""Request signing for the cloud connector; hmac is imported nowhere else in the app."""
import hmac


def sign(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, "sha256").hexdigest()


def verify(key: bytes, payload: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(key, payload), signature)
