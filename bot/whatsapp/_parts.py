"""Parts any message or status may carry: errors, reply context, ad referral."""

from __future__ import annotations

from bot.whatsapp._fields import JsonObject, bool_at, dict_at, dicts_at, int_at, str_at
from bot.whatsapp.events import ErrorInfo, MessageContext, Referral, ReferredProduct

__all__ = ["context_of", "describe_errors", "errors_of", "referral_of"]


# Meta's error codes are 32-bit, and so is the column that stores them.
_CODE_MIN, _CODE_MAX = -(2**31), 2**31 - 1


def _code(error: JsonObject) -> int | None:
    code = int_at(error, "code")
    return code if code is not None and _CODE_MIN <= code <= _CODE_MAX else None


def errors_of(obj: JsonObject) -> tuple[ErrorInfo, ...]:
    """Meta's error list, in the current (error_data.details) or older (flat details) shape."""
    errors = []
    for error in dicts_at(obj, "errors"):
        data = dict_at(error, "error_data") or {}
        errors.append(
            ErrorInfo(
                code=_code(error),
                title=str_at(error, "title") or str_at(error, "message"),
                details=str_at(data, "details") or str_at(error, "details"),
            )
        )
    return tuple(errors)


def describe_errors(errors: tuple[ErrorInfo, ...], *, details: bool = False) -> str:
    """Errors as `(131051) Message type unknown; …`, with their details appended when asked."""
    parts = []
    for error in errors:
        text = error.title or error.details or ""
        if details and error.details and error.details != text:
            text = f"{text}: {error.details}"
        parts.append(f"({error.code}) {text}".strip())
    return "; ".join(parts)


def context_of(message: JsonObject) -> MessageContext | None:
    context = dict_at(message, "context")
    if context is None:
        return None
    product = dict_at(context, "referred_product") or {}
    catalog_id, retailer_id = str_at(product, "catalog_id"), str_at(product, "product_retailer_id")
    return MessageContext(
        from_=str_at(context, "from"),
        id=str_at(context, "id"),
        forwarded=bool_at(context, "forwarded"),
        frequently_forwarded=bool_at(context, "frequently_forwarded"),
        referred_product=(
            ReferredProduct(catalog_id=catalog_id, product_retailer_id=retailer_id)
            if catalog_id is not None and retailer_id is not None
            else None
        ),
    )


def referral_of(message: JsonObject) -> Referral | None:
    referral = dict_at(message, "referral")
    if referral is None:
        return None
    return Referral(
        source_url=str_at(referral, "source_url"),
        source_id=str_at(referral, "source_id"),
        source_type=str_at(referral, "source_type"),
        headline=str_at(referral, "headline"),
        body=str_at(referral, "body"),
        media_type=str_at(referral, "media_type"),
        ctwa_clid=str_at(referral, "ctwa_clid"),
    )
