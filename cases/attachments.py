"""Uploaded photos and files: allow-listed by magic bytes (never by the name or the browser's
content type), capped in size, hashed, stored through Django's default storage."""

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "application/pdf": ".pdf",
}


def sniff(head: bytes) -> str | None:
    """The content type of a file from its first bytes, or None when it is not on the list."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "image/heic"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def max_upload_bytes() -> int:
    return getattr(settings, "GRIDGOV_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)


def validate_upload(uploaded) -> tuple[str, str]:
    """(content_type, sha256) of an uploaded file, or ValidationError (code and Chinese message)."""
    limit = max_upload_bytes()
    if uploaded.size > limit:
        raise ValidationError(_("文件过大：最大 %(mb)d MB") % {"mb": limit // (1024 * 1024)}, code="file_too_large")
    if uploaded.size == 0:
        raise ValidationError(_("文件为空"), code="file_empty")
    uploaded.seek(0)
    content_type = sniff(uploaded.read(16))
    if content_type is None:
        raise ValidationError(_("不支持的文件类型：仅限 JPEG、PNG、GIF、WebP、HEIC 图片和 PDF"), code="file_type")
    uploaded.seek(0)
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return content_type, digest.hexdigest()
